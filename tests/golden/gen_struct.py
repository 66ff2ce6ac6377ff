"""Golden cases for the graph-structure ops: residual add and channel (axis 1) concatenation."""
import torch
from golden_common import rand, run_module


class Add(torch.nn.Module):
    def forward(self, a, b):
        return a + b


class AddSelf(torch.nn.Module):
    """add(x, x): one node feeding both inputs, so its gradient is the sum of both (2 * gout)."""

    def forward(self, a):
        return a + a


class Concat(torch.nn.Module):
    def forward(self, *xs):
        return torch.cat(xs, dim=1)


def generate():
    fam = "struct"
    for name, shape in {
        "add_3x7": (3, 7),
        "add_2x3x5x7": (2, 3, 5, 7),
        "add_1x2x3x5x3": (1, 2, 3, 5, 3),
    }.items():
        torch.manual_seed(len(name))
        run_module(fam, name, "Add", {}, Add(), [rand(*shape), rand(*shape)])
    torch.manual_seed(5)
    run_module(fam, "add_same_input_2x3x4", "Add", {"same_input": 1}, AddSelf(), [rand(2, 3, 4)])

    for name, shapes in {
        "concat_2d_2in": [(3, 4), (3, 7)],
        "concat_2d_3in": [(1, 1), (1, 5), (1, 2)],
        "concat_4d_2in": [(2, 3, 5, 7), (2, 1, 5, 7)],
        "concat_4d_3in": [(2, 2, 3, 5), (2, 4, 3, 5), (2, 3, 3, 5)],
        "concat_5d_2in": [(2, 2, 3, 2, 5), (2, 3, 3, 2, 5)],
        "concat_5d_3in": [(1, 1, 2, 3, 3), (1, 2, 2, 3, 3), (1, 3, 2, 3, 3)],
    }.items():
        torch.manual_seed(len(name) + len(shapes))
        run_module(fam, name, "Concat", {"count": len(shapes)}, Concat(), [rand(*s) for s in shapes])
