"""Golden cases for the activations, PReLU, Softmax / LogSoftmax and Dropout (eval mode only: PyTorch's
training masks cannot be reproduced, so tests/test_act.c checks training dropout by its properties)."""
import torch
from golden_common import rand, run_module

FAM = "act"

# name: (module, activation kind as tests/test_act.c reads it, alpha, input range)
ELEMENTWISE = {
    "relu": (lambda a: torch.nn.ReLU(), "Relu", 2.0),
    "leaky_relu": (lambda a: torch.nn.LeakyReLU(a), "LeakyRelu", 2.0),
    "elu": (lambda a: torch.nn.ELU(a), "Elu", 3.0),
    "sigmoid": (lambda a: torch.nn.Sigmoid(), "Sigmoid", 5.0),
    "tanh": (lambda a: torch.nn.Tanh(), "Tanh", 3.0),
    "gelu": (lambda a: torch.nn.GELU(), "Gelu", 4.0),
    "gelu_tanh": (lambda a: torch.nn.GELU(approximate="tanh"), "Gelu", 4.0),
}

# Shapes: 1D-like (N, C), batch 1 with prime H and W, 5-D, and a 3-D (N, C, L).
SHAPES = {
    "n4c7": (4, 7),
    "b1c3h5w7": (1, 3, 5, 7),
    "n2c3d2h3w5": (2, 3, 2, 3, 5),
    "n3c2l11": (3, 2, 11),
}


def elementwise():
    for act, (make, op, span) in ELEMENTWISE.items():
        alphas = {"leaky_relu": [0.01, 0.2], "elu": [1.0, 0.5]}.get(act, [0.0])
        for k, (sname, shape) in enumerate(SHAPES.items()):
            alpha = alphas[k % len(alphas)]
            torch.manual_seed(100 + k + 10 * len(act))
            name = "%s_%s" % (act, sname) + ("_a%g" % alpha if act in ("leaky_relu", "elu") else "")
            run_module(FAM, name, op, {"act": act, "alpha": alpha}, make(alpha), [rand(*shape, lo=-span, hi=span)])


def prelu():
    for name, (shape, nparam) in {
        "prelu_n5c6_p1": ((5, 6), 1),
        "prelu_n5c6_pc": ((5, 6), 6),
        "prelu_n2c3h5w7_p1": ((2, 3, 5, 7), 1),
        "prelu_b1c4h3w5_pc": ((1, 4, 3, 5), 4),
        "prelu_n2c3d2h3w3_pc": ((2, 3, 2, 3, 3), 3),
    }.items():
        torch.manual_seed(len(name))
        m = torch.nn.PReLU(nparam, init=0.25)
        if nparam > 1:  # distinct slopes, so that a wrong channel is seen
            with torch.no_grad():
                m.weight.copy_(rand(nparam, lo=-0.5, hi=0.7))
        run_module(FAM, name, "PRelu", {"num_parameters": nparam, "init": 0.25}, m, [rand(*shape, lo=-2, hi=2)])


def softmax():
    for name, (shape, axis, lo, hi) in {
        "n4c10_axis1": ((4, 10), 1, -3, 3),
        "n3c5l7_axis-1": ((3, 5, 7), -1, -3, 3),
        "n6c4_axis0": ((6, 4), 0, -3, 3),
        "n2c5h3w3_axis1": ((2, 5, 3, 3), 1, -3, 3),
        "b1c3h5w7_axis-2": ((1, 3, 5, 7), -2, -3, 3),
        "n3c13_axis-1_large": ((3, 13), -1, -90, 90),  # exp overflows float without the max subtracted
    }.items():
        for log in (False, True):
            torch.manual_seed(len(name) + log)
            m = torch.nn.LogSoftmax(dim=axis) if log else torch.nn.Softmax(dim=axis)
            op = "LogSoftmax" if log else "Softmax"
            run_module(FAM, ("log_softmax_" if log else "softmax_") + name, op, {"axis": axis}, m,
                       [rand(*shape, lo=lo, hi=hi)])


def dropout_eval():
    for name, (shape, p) in {
        "dropout_eval_n4c7_p0.5": ((4, 7), 0.5),
        "dropout_eval_b1c3h5w7_p0.2": ((1, 3, 5, 7), 0.2),
        "dropout_eval_n2c3d2h3w5_p0.9": ((2, 3, 2, 3, 5), 0.9),
    }.items():
        torch.manual_seed(len(name))
        run_module(FAM, name, "Dropout", {"p": p}, torch.nn.Dropout(p), [rand(*shape)], mode="eval")


def generate():
    elementwise()
    prelu()
    softmax()
    dropout_eval()
