"""Golden cases for the tensor ops of imported ONNX models: Reshape, Transpose, broadcast Add/Sub/Mul/Div,
Clip, Pad (zeros/constant, reflect, replicate, circular, negative = crop), ReduceMean, MatMul."""
import torch
import torch.nn.functional as F
from golden_common import rand, run_module


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def case(name, op, attrs, fn, inputs, seed):
    torch.manual_seed(seed)
    run_module("tensor", name, op, attrs, Fn(fn), inputs)


def generate():
    s = 0

    def nxt():
        nonlocal s
        s += 1
        torch.manual_seed(1000 + s)
        return s

    # Reshape with ONNX's 0 (copy) and -1 (infer)
    for name, shape, target in [("reshape_b1_5x7_to_35", (1, 5, 7), [0, -1]),
                                ("reshape_b3_2x3x5_to_3x5x2", (3, 2, 3, 5), [0, 5, 0, -1]),
                                ("reshape_b2_30_to_2x3x2x5", (2, 30), [2, 3, 2, 5])]:
        nxt()
        x = rand(*shape)
        out = [x.shape[i] if t == 0 else t for i, t in enumerate(target)]
        case(name, "Reshape", {"dims": target}, lambda a, o=out: a.reshape(o), [x], s)
    for name, shape, perm in [("transpose_b1_3x5_rev", (1, 3, 5), None),
                              ("transpose_b2_3x5x7_0213", (2, 3, 5, 7), [0, 2, 1, 3]),
                              ("transpose_b2_2x3x2x3_40312", (2, 2, 3, 2, 3), [4, 0, 3, 1, 2])]:
        nxt()
        x = rand(*shape)
        p = perm if perm is not None else list(reversed(range(len(shape))))
        case(name, "Transpose", {"perm": perm if perm is not None else []}, lambda a, p=p: a.permute(*p), [x], s)
    ops = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}
    for name, op, sa, sb in [("add_same_2x3x5x7", "Add", (2, 3, 5, 7), (2, 3, 5, 7)),
                             ("add_channel_bias_2x3x5x5", "Add", (2, 3, 5, 5), (3, 1, 1)),
                             ("sub_both_broadcast", "Sub", (2, 1, 5), (3, 1)),
                             ("mul_scalar_1x7x3", "Mul", (1, 7, 3), ()),
                             ("mul_rowvec_3x4x11", "Mul", (3, 4, 11), (11,)),
                             ("div_2x3x5", "Div", (2, 3, 5), (2, 1, 5)),
                             ("div_scalar_by_tensor", "Div", (1,), (2, 3, 4))]:
        nxt()
        a = rand(*sa)
        b = rand(*(sb or (1,)), lo=0.5, hi=1.5) if op == "Div" else rand(*(sb or (1,)))
        if sb == ():
            b = b.reshape(())
        case(name, op, {"op": op}, ops[op], [a, b], s)
    for name, shape, lo, hi in [("clip_relu6_2x3x5x5", (2, 3, 5, 5), 0.0, 6.0),
                                ("clip_sym_1x13", (1, 13), -0.5, 0.5),
                                ("clip_lo_only_3x7", (3, 7), -0.2, float("inf"))]:
        nxt()
        x = rand(*shape, lo=-8, hi=8) if hi == 6.0 else rand(*shape)
        case(name, "Clip", {"lo": lo, "hi": hi if hi != float("inf") else 1e30}, lambda a, lo=lo, hi=hi: torch.clamp(a, lo, hi if hi != float("inf") else None), [x], s)
    # Pad: pads as ONNX (begins of every axis, then ends); torch's F.pad lists the last axis first
    for name, shape, pads, mode, value in [
            ("pad_zeros_2x3x5x7", (2, 3, 5, 7), [0, 0, 1, 2, 0, 0, 2, 1], "constant", 0.0),
            ("pad_value_1x2x5", (1, 2, 5), [0, 1, 3, 0, 0, 2], "constant", 0.5),
            ("pad_crop_2x3x7x5", (2, 3, 7, 5), [0, 0, -1, 1, 0, 0, -2, -1], "constant", 0.0),
            ("pad_reflect_1x2x5x7", (1, 2, 5, 7), [0, 0, 4, 1, 0, 0, 2, 6], "reflect", 0.0),
            ("pad_reflect_1d_3x2x11", (3, 2, 11), [0, 0, 10, 0, 0, 3], "reflect", 0.0),
            ("pad_replicate_2x3x5x5", (2, 3, 5, 5), [0, 0, 3, 1, 0, 0, 0, 7], "replicate", 0.0),
            ("pad_replicate_3d_1x2x3x4x5", (1, 2, 3, 4, 5), [0, 0, 1, 2, 0, 0, 0, 2, 1, 1], "replicate", 0.0),
            ("pad_circular_1x2x5x7", (1, 2, 5, 7), [0, 0, 2, 5, 0, 0, 5, 1], "circular", 0.0)]:
        nxt()
        x = rand(*shape)
        r = len(shape)
        mode_map = {"constant": 0, "reflect": 1, "replicate": 2, "circular": 3}
        tp = []
        first = 0 if mode == "constant" else 2
        for ax in reversed(range(first, r)):
            tp += [pads[ax], pads[r + ax]]
        case(name, "Pad", {"pads": pads, "mode": mode_map[mode], "value": value},
             lambda a, tp=tp, mode=mode, value=value: F.pad(a, tp, mode=mode, value=value) if mode == "constant" else F.pad(a, tp, mode=mode),
             [x], s)
    for name, shape, axes, keep in [("reducemean_hw_2x3x5x7", (2, 3, 5, 7), [2, 3], 1),
                                    ("reducemean_c_neg_3x4x5", (3, 4, 5), [-2], 0),
                                    ("reducemean_all_1x3x3", (1, 3, 3), [], 0)]:
        nxt()
        x = rand(*shape)
        dims = axes if axes else list(range(len(shape)))
        case(name, "ReduceMean", {"axes": axes, "keepdims": keep},
             lambda a, d=dims, k=keep: a.mean(dim=d, keepdim=bool(k)), [x], s)
    for name, sa, sb in [("matmul_5x7_7x3", (5, 7), (7, 3)),
                         ("matmul_batched_2x3x5x4_4x6", (2, 3, 5, 4), (4, 6)),
                         ("matmul_bcast_2x1x3x4_5x4x2", (2, 1, 3, 4), (5, 4, 2)),
                         ("matmul_1x1x1_1x1", (1, 1, 1), (1, 1))]:
        nxt()
        case(name, "MatMul", {}, torch.matmul, [rand(*sa), rand(*sb)], s)
    for name, shape in [("erf_2x3x5", (2, 3, 5)), ("erf_1x17", (1, 17)), ("erf_3x2x2x3", (3, 2, 2, 3))]:
        nxt()
        case(name, "Erf", {}, torch.erf, [rand(*shape, lo=-2.5, hi=2.5)], s)
