"""Golden cases for the normalisation layers: BatchNorm 1d/2d/3d (train step with running statistics and
the eval output after it, and a pure eval case), LayerNorm, InstanceNorm, GroupNorm, LocalResponseNorm."""
import torch
from golden_common import rand, run_module

FAM = "norm"


def set_affine(m, c_shape):
    """Random weight and bias (so their gradients and effect are visible)."""
    with torch.no_grad():
        m.weight.copy_(rand(*c_shape, lo=0.5, hi=1.5))
        m.bias.copy_(rand(*c_shape))


def batchnorm_cases():
    cls = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}
    # name: (input shape, eps, momentum, random initial running statistics)
    cases = {
        "bn1d_n5_c7": ((5, 7), 1e-5, 0.1, False),
        "bn1d_n2_c3": ((2, 3), 1e-5, 0.1, True),
        "bn1d_n4_c3_l11_eps1e-3_mom0.3": ((4, 3, 11), 1e-3, 0.3, True),
        "bn1d_n3_c5_l2": ((3, 5, 2), 1e-5, 0.1, False),
        "bn2d_n2_c5_7x3": ((2, 5, 7, 3), 1e-5, 0.1, False),
        "bn2d_n1_c3_5x7": ((1, 3, 5, 7), 1e-5, 0.1, True),
        "bn2d_n3_c2_13x11_mom1": ((3, 2, 13, 11), 1e-5, 1.0, True),
        "bn3d_n2_c3_3x5x2_eps1e-4_mom0.5": ((2, 3, 3, 5, 2), 1e-4, 0.5, True),
        "bn3d_n1_c2_2x3x5": ((1, 2, 2, 3, 5), 1e-5, 0.1, False),
    }
    for i, (name, (shape, eps, mom, random_stats)) in enumerate(sorted(cases.items())):
        torch.manual_seed(100 + i)
        c = shape[1]
        m = cls[len(shape)](c, eps=eps, momentum=mom)
        set_affine(m, (c,))
        if random_stats:
            with torch.no_grad():
                m.running_mean.copy_(rand(c))
                m.running_var.copy_(rand(c, lo=0.5, hi=2.0))
        x = rand(*shape, lo=-2.3, hi=3.7)  # a mean away from 0
        run_module(FAM, name, "BatchNormalization", {"eps": eps, "momentum": mom}, m, [x], eval_too=True)
    # eval mode only: running statistics, no batch restriction (a single value per channel is fine here)
    for i, (name, shape) in enumerate([("bn2d_eval_n2_c3_5x5", (2, 3, 5, 5)), ("bn1d_eval_n1_c4", (1, 4))]):
        torch.manual_seed(200 + i)
        c = shape[1]
        m = cls[len(shape)](c)
        set_affine(m, (c,))
        with torch.no_grad():
            m.running_mean.copy_(rand(c))
            m.running_var.copy_(rand(c, lo=0.5, hi=2.0))
        run_module(FAM, name, "BatchNormalization", {"eps": 1e-5, "momentum": 0.1}, m, [rand(*shape)], mode="eval")


def layernorm_cases():
    cases = {
        "ln_nd1_3x10": ((3, 10), 1, 1e-5, True),
        "ln_nd1_4x6x5_noaffine": ((4, 6, 5), 1, 1e-5, False),
        "ln_nd2_2x3x5x7_eps1e-3": ((2, 3, 5, 7), 2, 1e-3, True),
        "ln_nd3_2x4x3x5": ((2, 4, 3, 5), 3, 1e-5, True),
        "ln_nd3_1x2x3x3x5_noaffine": ((1, 2, 3, 3, 5), 3, 1e-5, False),
        "ln_nd4_2x2x3x2x3": ((2, 2, 3, 2, 3), 4, 1e-5, True),
    }
    for i, (name, (shape, nd, eps, affine)) in enumerate(sorted(cases.items())):
        torch.manual_seed(300 + i)
        m = torch.nn.LayerNorm(shape[-nd:], eps=eps, elementwise_affine=affine)
        if affine:
            set_affine(m, shape[-nd:])
        run_module(FAM, name, "LayerNormalization", {"normalized_ndim": nd, "eps": eps, "affine": int(affine)}, m,
                   [rand(*shape, lo=-2.0, hi=3.0)])


def instancenorm_cases():
    cls = {3: torch.nn.InstanceNorm1d, 4: torch.nn.InstanceNorm2d, 5: torch.nn.InstanceNorm3d}
    cases = {
        "in1d_3x4x7": ((3, 4, 7), 1e-5, False),
        "in1d_2x3x5_affine": ((2, 3, 5), 1e-5, True),
        "in2d_2x3x5x7_affine": ((2, 3, 5, 7), 1e-5, True),
        "in2d_1x4x3x3": ((1, 4, 3, 3), 1e-5, False),
        "in3d_2x2x3x4x5_affine_eps1e-3": ((2, 2, 3, 4, 5), 1e-3, True),
        "in3d_1x3x2x2x3": ((1, 3, 2, 2, 3), 1e-5, False),
    }
    for i, (name, (shape, eps, affine)) in enumerate(sorted(cases.items())):
        torch.manual_seed(400 + i)
        m = cls[len(shape)](shape[1], eps=eps, affine=affine)
        if affine:
            set_affine(m, (shape[1],))
        run_module(FAM, name, "InstanceNormalization", {"eps": eps, "affine": int(affine)}, m,
                   [rand(*shape, lo=-1.0, hi=2.0)])


def groupnorm_cases():
    cases = {
        "gn_g1_2x6x5x7": ((2, 6, 5, 7), 1, 1e-5, True),
        "gn_g6_2x6x5x7": ((2, 6, 5, 7), 6, 1e-5, True),
        "gn_g3_2x6x5x7_noaffine": ((2, 6, 5, 7), 3, 1e-5, False),
        "gn_g4_3x8x11_eps1e-3": ((3, 8, 11), 4, 1e-3, True),
        "gn_g2_3x4": ((3, 4), 2, 1e-5, True),
        "gn_g2_1x6x2x3x3": ((1, 6, 2, 3, 3), 2, 1e-5, True),
    }
    for i, (name, (shape, groups, eps, affine)) in enumerate(sorted(cases.items())):
        torch.manual_seed(500 + i)
        m = torch.nn.GroupNorm(groups, shape[1], eps=eps, affine=affine)
        if affine:
            set_affine(m, (shape[1],))
        run_module(FAM, name, "GroupNormalization", {"num_groups": groups, "eps": eps, "affine": int(affine)}, m,
                   [rand(*shape, lo=-1.0, hi=2.0)])


def lrn_cases():
    cases = {
        "lrn_size5_alexnet_2x7x5x5": ((2, 7, 5, 5), 5, 1e-4, 0.75, 2.0),
        "lrn_size5_strong_1x9x3x4": ((1, 9, 3, 4), 5, 1.0, 0.75, 1.0),
        "lrn_size4_even_2x6x3x3": ((2, 6, 3, 3), 4, 0.5, 0.6, 1.0),
        "lrn_size2_even_1x5x2x3x4": ((1, 5, 2, 3, 4), 2, 0.8, 0.5, 1.0),
        "lrn_size7_gt_c3_2x3x4x6": ((2, 3, 4, 6), 7, 2.0, 1.2, 1.5),
        "lrn_size3_1d_3x6x5": ((3, 6, 5), 3, 0.3, 0.9, 0.5),
        "lrn_size1_2x4x3x3": ((2, 4, 3, 3), 1, 1.0, 0.75, 1.0),
    }
    for i, (name, (shape, size, alpha, beta, k)) in enumerate(sorted(cases.items())):
        torch.manual_seed(600 + i)
        m = torch.nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)
        run_module(FAM, name, "LRN", {"size": size, "alpha": alpha, "beta": beta, "k": k}, m,
                   [rand(*shape, lo=-2.0, hi=2.0)])


def generate():
    batchnorm_cases()
    layernorm_cases()
    instancenorm_cases()
    groupnorm_cases()
    lrn_cases()
