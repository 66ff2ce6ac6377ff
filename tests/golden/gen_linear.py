"""Golden cases for Linear and Flatten."""
import torch
from golden_common import rand, run_module


def generate():
    fam = "linear"
    for name, (n, fin, fout, bias) in {
        "b1_in7_out3": (1, 7, 3, True),
        "b5_in13_out11_nobias": (5, 13, 11, False),
        "b4_in64_out10": (4, 64, 10, True),
    }.items():
        torch.manual_seed(len(name))
        m = torch.nn.Linear(fin, fout, bias=bias)
        run_module(fam, name, "Gemm", {"out_features": fout, "bias": int(bias)}, m, [rand(n, fin)])
    # Linear on a 4-D input flattens it first (as our cn_linear does)
    torch.manual_seed(3)
    m = FlattenLinear(2 * 3 * 5, 4)
    run_module(fam, "b2_c2x3x5_flatten_out4", "Gemm", {"out_features": 4, "bias": 1}, m, [rand(2, 2, 3, 5)])


class FlattenLinear(torch.nn.Module):
    """Flatten then Linear, with the linear's parameter names at top level (weight, bias)."""

    def __init__(self, fin, fout):
        super().__init__()
        lin = torch.nn.Linear(fin, fout)
        self.weight, self.bias = lin.weight, lin.bias

    def forward(self, x):
        return torch.nn.functional.linear(x.flatten(1), self.weight, self.bias)
