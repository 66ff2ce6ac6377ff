"""Golden cases for a small DAG trained end to end (family "dag"): fan-out, concat, residual add and the
cross-entropy loss together, compared on the loss, every parameter's gradient and dL/dx.

  x -> fc1 [-> relu] -> {fc2a, fc2b} -> concat -> fc3 -> add(fc3, fc_skip(x)) -> cross_entropy(labels)

Parameters are saved as param.<node>.<name> and their gradients as grad.param.<node>.<name>. Two cases:
with the ReLU ("mlp_relu") and without it ("mlp_norelu", for builds without cn_relu)."""
import torch
import torch.nn.functional as F
from golden_common import rand, run_module

N, IN, HIDDEN, A, B, CLASSES, SMOOTHING = 4, 6, 8, 5, 3, 7, 0.1


class Dag(torch.nn.Module):
    def __init__(self, relu):
        super().__init__()
        self.relu = relu
        self.fc1 = torch.nn.Linear(IN, HIDDEN)
        self.fc2a = torch.nn.Linear(HIDDEN, A)
        self.fc2b = torch.nn.Linear(HIDDEN, B)
        self.fc3 = torch.nn.Linear(A + B, CLASSES)
        self.fc_skip = torch.nn.Linear(IN, CLASSES)

    def forward(self, x, labels):
        h = self.fc1(x)
        if self.relu:
            h = F.relu(h)
        z = self.fc3(torch.cat([self.fc2a(h), self.fc2b(h)], dim=1)) + self.fc_skip(x)
        return F.cross_entropy(z, labels.long(), label_smoothing=SMOOTHING)


def generate():
    for name, relu in {"mlp_relu": True, "mlp_norelu": False}.items():
        torch.manual_seed(42)
        model = Dag(relu)
        x = rand(N, IN, lo=-2.0, hi=2.0)
        labels = torch.randint(0, CLASSES, (N,)).double()
        attrs = {"relu": int(relu), "in": IN, "hidden": HIDDEN, "a": A, "b": B, "classes": CLASSES,
                 "label_smoothing": SMOOTHING}
        run_module("dag", name, "Dag", attrs, model, [x, labels], grad_inputs=[0])
