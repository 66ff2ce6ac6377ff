"""End-to-end training steps against PyTorch: a small conv net (conv, batch norm, ReLU, max pool, linear,
cross-entropy with label smoothing), 3 steps of each optimizer on fixed batches. Family "train"."""
import torch
from golden_common import rand, save


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False)  # no bias before batch norm
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.fc1 = torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        h = torch.nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        return self.fc1(h.flatten(1))


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_momentum_wd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=1e-4),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05),
}
CONFIG = {
    "sgd": {"optimizer": "sgd", "lr": 0.1},
    "sgd_momentum_wd": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
    "sgd_nesterov": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": 1, "weight_decay": 1e-3},
    "adam": {"optimizer": "adam", "lr": 0.01, "weight_decay": 1e-4},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.05},
}


def generate():
    for name, make in OPTIMIZERS.items():
        torch.manual_seed(7)
        net = Net()
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(p.float())
            net.bn1.weight.uniform_(0.5, 1.5)
            net.bn1.bias.uniform_(-0.5, 0.5)
        net = net.double()
        t = {"param." + k: v.clone() for k, v in net.state_dict().items() if "num_batches" not in k}
        opt = make(net.parameters())
        losses = []
        for step in range(3):
            x = rand(6, 2, 8, 8)
            y = torch.randint(0, 5, (6,))
            t["batch.%d.x" % step] = x
            t["batch.%d.y" % step] = y.double()
            net.train()
            loss = torch.nn.functional.cross_entropy(net(x), y, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        for k, v in net.state_dict().items():
            if "num_batches" not in k:
                t["after." + k] = v
        t["loss"] = torch.tensor(losses, dtype=torch.float64)
        save("train", name, "train", dict(CONFIG[name], label_smoothing=0.1), t)
