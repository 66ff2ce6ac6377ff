"""Golden cases for pooling: MaxPool, AveragePool (1D/2D/3D), GlobalAveragePool, GlobalMaxPool,
AdaptiveAvgPool. Inputs are a scaled random permutation, so every value is distinct (no max ties) and exact in
float32. Attributes are per spatial axis lists, read by tests/test_pool.c."""
import math

import torch
from golden_common import run_module

FAM = "pool"


def distinct(*shape):
    """A random permutation of 0..n-1, centred and scaled by a power of two: distinct, exact in float32."""
    n = math.prod(shape)
    scale = 2.0 ** -math.ceil(math.log2(max(n, 2) / 2))
    return ((torch.randperm(n).double() - n // 2) * scale).reshape(shape)


MAX = {1: torch.nn.MaxPool1d, 2: torch.nn.MaxPool2d, 3: torch.nn.MaxPool3d}
AVG = {1: torch.nn.AvgPool1d, 2: torch.nn.AvgPool2d, 3: torch.nn.AvgPool3d}
ADAPTIVE_AVG = {1: torch.nn.AdaptiveAvgPool1d, 2: torch.nn.AdaptiveAvgPool2d, 3: torch.nn.AdaptiveAvgPool3d}
ADAPTIVE_MAX = {1: torch.nn.AdaptiveMaxPool1d, 2: torch.nn.AdaptiveMaxPool2d, 3: torch.nn.AdaptiveMaxPool3d}


def per_axis(v, rank):
    return list(v) if isinstance(v, (list, tuple)) else [v] * rank


def max_case(name, shape, k, s, p, d=1, ceil=False):
    rank = len(shape) - 2
    attrs = {"kernel": per_axis(k, rank), "stride": per_axis(s, rank), "pad": per_axis(p, rank),
             "dilation": per_axis(d, rank), "ceil_mode": int(ceil)}
    m = MAX[rank](tuple(attrs["kernel"]), tuple(attrs["stride"]), tuple(attrs["pad"]), tuple(attrs["dilation"]),
                  ceil_mode=ceil)
    run_module(FAM, "max_" + name, "MaxPool", attrs, m, [distinct(*shape)], eval_too=True)


def avg_case(name, shape, k, s, p, ceil=False, include_pad=True):
    rank = len(shape) - 2
    attrs = {"kernel": per_axis(k, rank), "stride": per_axis(s, rank), "pad": per_axis(p, rank),
             "ceil_mode": int(ceil), "count_include_pad": int(include_pad)}
    m = AVG[rank](tuple(attrs["kernel"]), tuple(attrs["stride"]), tuple(attrs["pad"]), ceil_mode=ceil,
                  count_include_pad=include_pad)
    run_module(FAM, "avg_" + name, "AveragePool", attrs, m, [distinct(*shape)], eval_too=True)


def adaptive_case(name, shape, out):
    rank = len(shape) - 2
    m = ADAPTIVE_AVG[rank](tuple(out))
    run_module(FAM, "adaptive_" + name, "AdaptiveAvgPool", {"out_size": list(out)}, m, [distinct(*shape)])


def global_case(name, shape, kind):
    rank = len(shape) - 2
    if kind == "max":
        m, op = ADAPTIVE_MAX[rank](1), "GlobalMaxPool"
    else:
        m, op = ADAPTIVE_AVG[rank](1), "GlobalAveragePool"
    run_module(FAM, "global%s_%s" % (kind, name), op, {}, m, [distinct(*shape)], eval_too=True)


def generate():
    torch.manual_seed(7)
    # max pooling
    max_case("1d_b1_w13_k3s2p1", (1, 3, 13), 3, 2, 1)
    max_case("1d_w17_k3s3p1_dil2_ceil", (2, 2, 17), 3, 3, 1, d=2, ceil=True)
    max_case("2d_b1_13x11_k3s2p1_dil2", (1, 2, 13, 11), 3, 2, 1, d=2)
    max_case("2d_11x7_k3x2_s2x3_p1_ceil", (2, 3, 11, 7), (3, 2), (2, 3), (1, 1), ceil=True)
    max_case("2d_b1_10x10_k2s3p1_ceil", (1, 2, 10, 10), 2, 3, 1, ceil=True)
    max_case("2d_b1_7x7_k2s2_ceil", (1, 2, 7, 7), 2, 2, 0, ceil=True)
    max_case("3d_b1_5x7x6_k2x3x3_s2x2x1_p1x1x0_ceil", (1, 2, 5, 7, 6), (2, 3, 3), (2, 2, 1), (1, 1, 0), ceil=True)
    max_case("3d_7x5x5_k3_s2_p1_dil2x1x2", (2, 2, 7, 5, 5), 3, 2, 1, d=(2, 1, 2))
    # average pooling
    avg_case("1d_b1_w13_k3s2p1", (1, 3, 13), 3, 2, 1)
    avg_case("1d_w8_k3s2p1_ceil", (2, 2, 8), 3, 2, 1, ceil=True)
    avg_case("1d_w8_k3s2p1_ceil_nopad", (2, 2, 8), 3, 2, 1, ceil=True, include_pad=False)
    avg_case("2d_b1_7x7_k2s2_ceil", (1, 2, 7, 7), 2, 2, 0, ceil=True)
    avg_case("2d_11x7_k3s2p1_ceil_nopad", (2, 3, 11, 7), 3, 2, 1, ceil=True, include_pad=False)
    avg_case("2d_b1_13x13_k2x3_s3x4_p1", (1, 2, 13, 13), (2, 3), (3, 4), (1, 1))
    avg_case("2d_b1_13x13_k2x3_s3x4_p1_nopad", (1, 2, 13, 13), (2, 3), (3, 4), (1, 1), include_pad=False)
    avg_case("3d_b1_5x7x6_k3s2p1_ceil", (1, 2, 5, 7, 6), 3, 2, 1, ceil=True)
    avg_case("3d_5x7x6_k3x2x3_s2x2x3_p1_ceil_nopad", (2, 2, 5, 7, 6), (3, 2, 3), (2, 2, 3), 1, ceil=True,
             include_pad=False)
    # adaptive average pooling (bins that do not divide the input, and more bins than inputs)
    adaptive_case("1d_w10_to4", (2, 3, 10), (4,))
    adaptive_case("2d_b1_7x7_to3x3", (1, 3, 7, 7), (3, 3))
    adaptive_case("2d_13x11_to5x4", (2, 2, 13, 11), (5, 4))
    adaptive_case("2d_b1_5x3_to7x4", (1, 2, 5, 3), (7, 4))
    adaptive_case("3d_b1_5x7x6_to2x3x4", (1, 2, 5, 7, 6), (2, 3, 4))
    # global pooling
    for kind in ("avg", "max"):
        global_case("1d_w13", (2, 3, 13), kind)
        global_case("2d_b1_7x5", (1, 4, 7, 5), kind)
        global_case("3d_3x5x7", (2, 2, 3, 5, 7), kind)
