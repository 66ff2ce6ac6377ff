#!/usr/bin/python3
"""ONNX models for convnet's import tests, exported from PyTorch with seeded random weights in eval mode.

  make_models.py             small models -> tests/onnx/models/ (committed; keep them < 1 MB in total)
  make_models.py --gaps      only the node-by-node models of importer_gaps (and tests/onnx/errors/)
  make_models.py --big DIR [--opset 13|newest] [NAME ...]
                             torchvision models -> DIR (made at test time only: hundreds of MB); both
                             opsets unless --opset

Each model NAME_opN.onnx gets a directory NAME_opN/ with input_0.pb (or .npy) and PyTorch's output_0.pb
(or .npy), the layout of ONNX's own test_data_set_0. Needs Debian's python3-torch and python3-onnx
(torchvision for --big)."""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
NEWEST = 17  # torch 1.13's newest export opset (torch.onnx._constants.ONNX_MAX_OPSET)
try:
    from torch.onnx import _constants
    NEWEST = _constants.ONNX_MAX_OPSET
except Exception:
    pass


class LeNet5(nn.Module):
    """LeNet-5 (6/16 channels, 120/84/10) on 1x28x28; flattens with view(x.size(0), -1), which exports
    the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain when the batch is dynamic."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class CNN1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(3, 8, 5, padding=2)
        self.bn1 = nn.BatchNorm1d(8)
        self.conv2 = nn.Conv1d(8, 16, 3, stride=2, dilation=2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = F.max_pool1d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.avg_pool1d(torch.tanh(self.conv2(x)), 3, stride=2, padding=1, count_include_pad=False)
        x = F.adaptive_avg_pool1d(x, 1).flatten(1)
        return F.log_softmax(self.fc(x), dim=1)


class CNN3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3d(2, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm3d(4)
        self.conv2 = nn.Conv3d(4, 6, (1, 3, 3), groups=2, bias=False)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        x = F.max_pool3d(F.relu(self.bn1(self.conv1(x))), 2, ceil_mode=True)
        x = F.elu(self.conv2(x))
        x = F.adaptive_avg_pool3d(x, 1).flatten(1)
        return self.fc(x)


class Blocks(nn.Module):
    """conv + BN + pool, an Inception-style concat, a residual add, depthwise conv with ReLU6 (Clip)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.b1 = nn.Conv2d(8, 4, 1)
        self.b2 = nn.Conv2d(8, 4, 3, padding=1)
        self.b3 = nn.Conv2d(8, 4, 1)
        self.res = nn.Conv2d(12, 12, 3, padding=1)
        self.res_bn = nn.BatchNorm2d(12)
        self.dw = nn.Conv2d(12, 12, 3, stride=2, groups=12)
        self.fc = nn.Linear(12 * 3 * 3, 7)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = torch.cat([self.b1(x), self.b2(x), self.b3(F.max_pool2d(x, 3, 1, 1))], 1)
        x = F.relu(self.res_bn(self.res(x)) + x)
        x = F.avg_pool2d(x, 2, ceil_mode=True)
        x = F.relu6(self.dw(x))
        x = F.leaky_relu(x, 0.1) * torch.sigmoid(x)
        return F.softmax(self.fc(torch.flatten(x, 1)), dim=1)


class TensorOps(nn.Module):
    """What exporters emit beyond layers: Pad (constant/reflect/edge), Transpose, MatMul, broadcast
    Add/Sub/Mul/Div, Clip, ReduceMean, Squeeze/Unsqueeze, PRelu, GroupNorm (InstanceNormalization +
    Reshape), LayerNorm, Flatten, Gemm with transB."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.prelu = nn.PReLU(6)
        self.gn = nn.GroupNorm(3, 6)
        self.ln = nn.LayerNorm(9)
        self.proj = nn.Parameter(torch.randn(9, 5) * 0.3)
        self.scale = nn.Parameter(torch.rand(6, 1, 1) + 0.5)
        self.fc = nn.Linear(30, 4)

    def forward(self, x):
        x = F.pad(x, (1, 2, 0, 1), mode="reflect")
        x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        x = self.prelu(self.conv(F.pad(x, (0, 1, 1, 0), value=0.5)))
        x = self.gn(x)                              # N,6,H,W
        x = x[:, :, :9, :9] if x.shape[2] >= 9 else x
        x = F.gelu(self.ln(x))                      # over W = 9; GELU exports as Erf before opset 20
        x = torch.matmul(x, self.proj)              # N,6,9,5
        x = (x - 0.25) / self.scale * 2.0 + x.mean(dim=2, keepdim=True)
        x = torch.clamp(x, -1.5, 2.0)
        x = x.permute(0, 2, 1, 3).mean(dim=1)      # N,6,5
        x = x.unsqueeze(1).squeeze(1).flatten(1)
        return self.fc(x)


def randomise(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def save_tensor(path, a, name):
    if path.endswith(".npy"):
        np.save(path, a.astype(np.float32))
    else:
        t = numpy_helper.from_array(a.astype(np.float32), name)
        with open(path, "wb") as f:
            f.write(t.SerializeToString())


def export(model, x, path, opset, dynamic_batch=False, ext=".pb"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    kw = {}
    if dynamic_batch:
        kw["dynamic_axes"] = {"x": {0: "N"}, "y": {0: "N"}}
    torch.onnx.export(model, (x,), path, opset_version=opset, input_names=["x"], output_names=["y"],
                      do_constant_folding=True, **kw)
    with torch.no_grad():
        y = model(x).numpy()
    d = path[:-5]
    os.makedirs(d, exist_ok=True)
    save_tensor(os.path.join(d, "input_0" + ext), x.numpy(), "x")
    save_tensor(os.path.join(d, "output_0" + ext), y, "y")


def small(out):
    cases = [
        ("lenet5", LeNet5, (2, 1, 28, 28), {"dynamic_batch": True}),
        ("cnn1d", CNN1d, (2, 3, 33), {"ext": ".npy"}),
        ("cnn3d", CNN3d, (1, 2, 7, 9, 9), {}),
        ("blocks", Blocks, (2, 3, 15, 15), {}),
        ("tensorops", TensorOps, (2, 3, 9, 10), {}),
    ]
    for seed, (name, cls, shape, kw) in enumerate(cases):
        for opset in sorted({9, 13, NEWEST} if name == "blocks" else {13, NEWEST}):
            if name == "tensorops" and opset < 17:
                continue  # LayerNormalization is an op from opset 17 on
            torch.manual_seed(100 + seed)
            model = randomise(cls(), 200 + seed)
            x = torch.rand(*shape) * 2 - 1
            export(model, x, os.path.join(out, "%s_op%d.onnx" % (name, opset)), opset, **kw)
            print("wrote", name, opset)


def handmade(out):
    """Models written node by node with onnx.helper for ops and attributes PyTorch does not emit (native
    LRN, GroupNormalization at opsets 18 and 21, auto_pad SAME_*, Gemm alpha/beta/transA, the opset-11
    Softmax axis rule, MaxPool with asymmetric pads, GlobalMaxPool), with references from torch.functional."""
    from onnx import TensorProto, helper
    g = torch.Generator().manual_seed(7)

    def r(*shape, lo=-1.0, hi=1.0):
        return torch.rand(*shape, generator=g) * (hi - lo) + lo

    def write(name, opset, nodes, x, y, inits):
        graph = helper.make_graph(
            nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y.shape))],
            [numpy_helper.from_array(v.numpy().astype(np.float32), k) for k, v in inits.items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="convnet")
        model.ir_version = 8
        path = os.path.join(out, "%s_op%d.onnx" % (name, opset))
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        d = path[:-5]
        os.makedirs(d, exist_ok=True)
        save_tensor(os.path.join(d, "input_0.pb"), x.numpy(), "x")
        save_tensor(os.path.join(d, "output_0.pb"), y.detach().numpy(), "y")
        print("wrote", name, opset)

    # LRN (odd size) -> GlobalMaxPool
    x = r(2, 7, 5, 6)
    y = F.local_response_norm(x, 5, alpha=2e-2, beta=0.6, k=1.5).amax(dim=(2, 3), keepdim=True)
    write("lrn_gmax", 13, [helper.make_node("LRN", ["x"], ["l"], size=5, alpha=2e-2, beta=0.6, bias=1.5),
                           helper.make_node("GlobalMaxPool", ["l"], ["y"])], x, y, {})
    # Conv auto_pad SAME_UPPER stride 2 (odd padding total), then SAME_LOWER, dilation 2
    x = r(1, 3, 9, 8)
    w1, b1, w2 = r(4, 3, 4, 3) * 0.5, r(4), r(5, 4, 3, 3) * 0.5
    h = F.conv2d(F.pad(x, (0, 1, 1, 2)), w1, b1, stride=2)   # in 9x8, k 4x3, s 2: totals 3 (H) and 1 (W)
    y = F.conv2d(F.pad(h, (2, 2, 2, 2)), w2, dilation=2)     # same size with k_eff 5
    write("conv_autopad", 11, [
        helper.make_node("Conv", ["x", "w1", "b1"], ["h"], auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("Conv", ["h", "w2"], ["y"], auto_pad="SAME_LOWER", dilations=[2, 2])],
        x, y, {"w1": w1, "b1": b1, "w2": w2})
    # GroupNormalization: opset 18 scales per group, opset 21 per channel
    x = r(2, 6, 4, 3)
    sg, bg = r(3, lo=0.5, hi=1.5), r(3)
    y = F.group_norm(x, 3, sg.repeat_interleave(2), bg.repeat_interleave(2), eps=1e-3)
    write("groupnorm", 18, [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3, epsilon=1e-3)],
          x, y, {"s": sg, "b": bg})
    sc, bc = r(6, lo=0.5, hi=1.5), r(6)
    y = F.group_norm(x, 3, sc, bc, eps=1e-3)
    write("groupnorm", 21, [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3, epsilon=1e-3)],
          x, y, {"s": sc, "b": bc})
    # Gemm alpha/beta/transA with a scalar C, then opset-11 Softmax on a 4-D tensor (axis 1 flattens C,H,W)
    x = r(5, 3)
    B, C = r(5, 4), r(1)
    y = 0.7 * x.t() @ B + 1.3 * C            # 3x4
    write("gemm_transA", 11, [helper.make_node("Gemm", ["x", "B", "C"], ["y"], alpha=0.7, beta=1.3, transA=1)],
          x, y, {"B": B, "C": C})
    x = r(2, 3, 2, 2)
    y = torch.softmax(x.reshape(2, -1), dim=1).reshape(2, 3, 2, 2)
    write("softmax_axis1", 11, [helper.make_node("Softmax", ["x"], ["y"], axis=1)], x, y, {})
    # MaxPool with asymmetric pads (a Pad of -inf first) and AveragePool with count_include_pad
    x = r(1, 2, 7, 6)
    y = F.max_pool2d(F.pad(x, (0, 2, 1, 0), value=float("-inf")), 3, stride=2)
    y = F.avg_pool2d(y, 2, stride=1, padding=1, count_include_pad=True)
    write("pool_pads", 13, [
        helper.make_node("MaxPool", ["x"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 0, 2]),
        helper.make_node("AveragePool", ["m"], ["y"], kernel_shape=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)],
        x, y, {})


def onnx_lrn(x, size, alpha, beta, bias):
    """ONNX's LRN: the window of channel c is [c - floor((size-1)/2), c + ceil((size-1)/2)]."""
    c = x.shape[1]
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.pad(x * x, [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2))
    s = sum(sq[:, i:i + c] for i in range(size))
    return x / (bias + alpha / size * s) ** beta


def write_model(out, name, opset, nodes, x, y, inits, sub="models", extra=None):
    """A one-input, one-output model written node by node; y None: no reference (an error model)."""
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None if y is None else list(y.shape))],
        [v if not isinstance(v, np.ndarray) else numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="convnet")
    model.ir_version = 9 if opset >= 19 else 8
    if extra:
        extra(model)
    d = os.path.join(out, "..", sub) if sub != "models" else out
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "%s_op%d.onnx" % (name, opset))
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    if y is not None:
        d = path[:-5]
        os.makedirs(d, exist_ok=True)
        save_tensor(os.path.join(d, "input_0.pb"), np.asarray(x, np.float32), "x")
        save_tensor(os.path.join(d, "output_0.pb"), np.asarray(y, np.float32), "y")
    print("wrote", os.path.relpath(path, HERE))
    return path


def importer_gaps(out):
    """Models for what exporters emit beyond PyTorch's usual graphs, references in numpy: Concat on axes
    other than 1, strided and reversed Slice, Conv weights through Identity/Constant/Transpose/Mul chains,
    LRN of even size (ONNX's window), Gather and Gemm on runtime tensors, Clip with inputs, Pad modes with
    axes (opset 18), Squeeze/Unsqueeze/ReduceMean in attribute and input forms, Shape with start/end, Pow /
    Sqrt / Reciprocal, external data. Error models (tests/onnx/errors/NAME.onnx with NAME.txt, a part of the
    expected message) for the error paths."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(11)

    def r(*shape, lo=-1.0, hi=1.0):
        return (rng.random(shape) * (hi - lo) + lo).astype(np.float32)

    def i64(*v):
        return np.array(v, np.int64)

    N = helper.make_node
    # Concat on axes 2, -1 and 0 of runtime tensors
    x = r(2, 3, 4, 5)
    a = np.concatenate([np.maximum(x, 0), x], axis=2)
    b = np.concatenate([a, a * 0.5], axis=-1)
    y = np.concatenate([b, b], axis=0)
    write_model(out, "concat_axes", 13, [
        N("Relu", ["x"], ["r"]), N("Concat", ["r", "x"], ["a"], axis=2), N("Mul", ["a", "half"], ["ah"]),
        N("Concat", ["a", "ah"], ["b"], axis=-1), N("Concat", ["b", "b"], ["y"], axis=0)],
        x, y, {"half": np.array(0.5, np.float32)})
    # Slice with steps: reversed, strided, clamped ends
    x = r(2, 6, 7, 8)
    y = x[:, 5::-2, :, -1::-3][:, :, 1:7:2, :]
    write_model(out, "slice_steps", 13, [
        N("Slice", ["x", "s1", "e1", "a1", "t1"], ["h"]), N("Slice", ["h", "s2", "e2", "a2", "t2"], ["y"])],
        x, y, {"s1": i64(5, -1), "e1": i64(-100, -(2 ** 63)), "a1": i64(1, 3), "t1": i64(-2, -3),
               "s2": i64(1), "e2": i64(7), "a2": i64(-2), "t2": i64(2)})
    # Conv weights that are not plain initializers: Identity of one, a Constant node transposed, a scaled one
    x = r(1, 3, 6, 6)
    w1, b1 = r(4, 3, 3, 3) * 0.5, r(4)
    w2t = r(3, 3, 4, 4) * 0.5            # stored (kh, kw, in, out): Transpose perm [3, 2, 0, 1] folds
    w3 = r(2, 4, 1, 1)
    h = torch.conv2d(torch.from_numpy(x), torch.from_numpy(w1), torch.from_numpy(b1), padding=1)
    h = torch.conv2d(h, torch.from_numpy(w2t.transpose(3, 2, 0, 1).copy()), padding=1)
    y = torch.conv2d(h, torch.from_numpy(w3 * 2.0)).numpy()
    write_model(out, "conv_weights", 13, [
        N("Identity", ["w1"], ["w1i"]), N("Identity", ["b1"], ["b1i"]), N("Conv", ["x", "w1i", "b1i"], ["h1"], pads=[1, 1, 1, 1]),
        N("Constant", [], ["w2c"], value=numpy_helper.from_array(w2t, "w2c")),
        N("Transpose", ["w2c"], ["w2"], perm=[3, 2, 0, 1]), N("Conv", ["h1", "w2"], ["h2"], pads=[1, 1, 1, 1]),
        N("Mul", ["w3", "two"], ["w3s"]), N("Conv", ["h2", "w3s"], ["y"])],
        x, y, {"w1": w1, "b1": b1, "w3": w3, "two": np.array(2.0, np.float32)})
    # LRN of even sizes (ONNX's window), then odd
    x = r(2, 6, 3, 4)
    y = onnx_lrn(onnx_lrn(x, 4, 0.3, 0.75, 1.5), 2, 0.2, 0.6, 1.0)
    write_model(out, "lrn_even", 13, [N("LRN", ["x"], ["h"], size=4, alpha=0.3, beta=0.75, bias=1.5),
                                      N("LRN", ["h"], ["y"], size=2, alpha=0.2, beta=0.6, bias=1.0)], x, y, {})
    # Gather of a runtime tensor (a vector of indices, then a scalar), Gemm with a runtime B, Pow / Sqrt / Reciprocal
    x = r(2, 5, 6)
    g1 = x[:, [4, 0, -1], :]             # 2x3x6
    g2 = g1[:, :, 3]                     # 2x3
    c = r(2, 2)
    m = 0.5 * g2 @ g2.T + 2.0 * c        # Gemm(g2, g2, c, transB=1)
    write_model(out, "gather_gemm_pow", 13, [
        N("Gather", ["x", "idx"], ["g1"], axis=1), N("Gather", ["g1", "three"], ["g2"], axis=-1),
        N("Gemm", ["g2", "g2", "c"], ["m"], alpha=0.5, beta=2.0, transB=1),
        N("Mul", ["m", "m"], ["m2"]),
        N("Add", ["m2", "one"], ["m2p"]), N("Reciprocal", ["m2p"], ["rec"]),
        N("Sqrt", ["m2p"], ["sq"]), N("Pow", ["sq", "p"], ["pw"]), N("Add", ["pw", "rec"], ["y"])],
        x, np.sqrt(m * m + 1.0) ** -0.75 + 1.0 / (m * m + 1.0),
        {"idx": i64(4, 0, -1), "three": np.array(3, np.int64), "c": c, "one": np.array(1.0, np.float32),
         "p": np.array(-0.75, np.float32)})
    # Clip with a min input only, Pad constant/reflect/edge with axes (opset 18), ReduceMean with axes input
    x = r(1, 2, 5, 6)
    h = np.maximum(x, -0.3)
    h = np.pad(h, [(0, 0), (0, 0), (1, 2), (0, 0)], constant_values=0.25)
    h = np.pad(h, [(0, 0), (0, 0), (0, 0), (2, 1)], mode="reflect")
    h = np.pad(h, [(0, 0), (1, 0), (0, 1), (0, 0)], mode="edge")
    y = h.mean(axis=(1, 3), keepdims=True)
    write_model(out, "clip_pad_mean", 18, [
        N("Clip", ["x", "lo", ""], ["c"]), N("Pad", ["c", "p1", "v", "ax1"], ["h1"], mode="constant"),
        N("Pad", ["h1", "p2", "", "ax2"], ["h2"], mode="reflect"), N("Pad", ["h2", "p3"], ["h3"], mode="edge"),
        N("ReduceMean", ["h3", "rax"], ["y"], keepdims=1)],
        x, y, {"lo": np.array(-0.3, np.float32), "p1": i64(1, 2), "v": np.array(0.25, np.float32), "ax1": i64(2),
               "p2": i64(2, 1), "ax2": i64(-1), "p3": i64(0, 1, 0, 0, 0, 0, 1, 0), "rax": i64(1, 3)})
    # Squeeze/Unsqueeze/ReduceMean as attributes (opset 11) and Shape with start/end (opset 15)
    x = r(2, 3, 4, 5)
    y = x.mean(axis=3, keepdims=True)[:, :, :, 0][:, None].reshape(2, 1, 12)[:, 0]
    write_model(out, "squeeze_attrs", 11, [
        N("ReduceMean", ["x"], ["m"], axes=[-1], keepdims=1), N("Squeeze", ["m"], ["s"], axes=[3]),
        N("Unsqueeze", ["s"], ["u"], axes=[1]), N("Reshape", ["u", "shp"], ["r"]), N("Squeeze", ["r"], ["y"], axes=[1])],
        x, y, {"shp": i64(2, 1, 12)})
    y = x.reshape(2, 3, 20)
    write_model(out, "shape_start_end", 15, [
        N("Shape", ["x"], ["s"], start=0, end=-2), N("Concat", ["s", "m1"], ["t"], axis=0), N("Reshape", ["x", "t"], ["y"])],
        x, y, {"m1": i64(-1)})
    # External data: a Conv's weight and bias in conv_external.bin next to the model (at offsets 0 and 512)
    x = r(1, 2, 5, 5)
    w, bb = r(3, 2, 3, 3), r(3)
    y = torch.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(bb)).numpy()
    blob = bytearray(512 + bb.nbytes)
    blob[:w.nbytes] = w.tobytes()
    blob[512:] = bb.tobytes()
    with open(os.path.join(out, "conv_external.bin"), "wb") as f:
        f.write(bytes(blob))

    def ext(name, arr, location, offset, length):
        t = TensorProto()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend(arr.shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", offset), ("length", length)):
            if v is not None:
                e = t.external_data.add()
                e.key, e.value = k, str(v)
        return t

    write_model(out, "conv_external", 13, [N("Conv", ["x", "w", "b"], ["y"])], x, y,
                {"w": ext("w", w, "conv_external.bin", 0, w.nbytes), "b": ext("b", bb, "conv_external.bin", 512, None)})

    # AveragePool with dilations (opset 19); the reference is ONNX Runtime's (skipped without it)
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
        print("SKIP avgpool_dilated_op19: no onnxruntime for its reference")
    if ort is not None:
        x = (np.random.default_rng(19).random((1, 2, 9, 10)) * 2 - 1).astype(np.float32)  # own stream
        nodes = [N("AveragePool", ["x"], ["h"], kernel_shape=[3, 2], dilations=[2, 3], pads=[1, 1, 1, 1], ceil_mode=1,
                   count_include_pad=0, strides=[2, 1]),
                 N("AveragePool", ["h"], ["y"], kernel_shape=[2, 2], dilations=[1, 2], pads=[1, 1, 1, 1], strides=[2, 2],
                   count_include_pad=1, ceil_mode=1)]
        path = write_model(out, "avgpool_dilated", 19, nodes, x, np.zeros(1, np.float32), {})
        y = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        write_model(out, "avgpool_dilated", 19, nodes, x, y, {})

    # ---- error models: NAME.onnx and NAME.txt (a part of the expected message)
    def bad(name, opset, nodes, x, inits, expect):
        path = write_model(out, name, opset, nodes, x, None, inits, sub="errors")
        with open(path[:-5] + ".txt", "w") as f:
            f.write(expect + "\n")

    x = r(1, 4)
    bad("conv_dynamic_weight", 13, [N("Reshape", ["x", "s"], ["w"]), N("Reshape", ["x", "s2"], ["x4"]),
                                    N("Conv", ["x4", "w"], ["y"])], x, {"s": i64(1, 1, 2, 2), "s2": i64(1, 1, 2, 2)},
        "node 'y' (Conv): the weight 'w' is computed at run time")
    bad("ext_escape", 13, [N("Conv", ["x", "w"], ["y"])], r(1, 2, 5, 5), {"w": ext("w", w, "../models/conv_external.bin", 0, 216)},
        "is outside the model's directory")
    bad("ext_absolute", 13, [N("Conv", ["x", "w"], ["y"])], r(1, 2, 5, 5), {"w": ext("w", w, "/etc/passwd", 0, 216)},
        "is outside the model's directory")
    bad("ext_short", 13, [N("Conv", ["x", "w"], ["y"])], r(1, 2, 5, 5), {"w": ext("w", w, "ext_data.bin", 8, 216)},
        "offset 8 and length 216 do not fit")
    bad("ext_size", 13, [N("Conv", ["x", "w"], ["y"])], r(1, 2, 5, 5), {"w": ext("w", w, "ext_data.bin", 16, None)},
        "needs 54 values, the data holds 50")
    bad("ext_missing", 13, [N("Conv", ["x", "w"], ["y"])], r(1, 2, 5, 5), {"w": ext("w", w, "no_such.bin", 0, None)},
        "external data file 'no_such.bin' cannot be opened")
    bad("ext_offset", 13, [N("Conv", ["x", "w"], ["y"])], r(1, 2, 5, 5), {"w": ext("w", w, "ext_data.bin", "12x", None)},
        "offset '12x' is not a byte count")
    with open(os.path.join(out, "..", "errors", "ext_data.bin"), "wb") as f:
        f.write(bytes(216))
    x = r(2, 3, 4)
    bad("slice_step0", 13, [N("Slice", ["x", "s", "e", "a", "t"], ["y"])], x,
        {"s": i64(0), "e": i64(2), "a": i64(1), "t": i64(0)}, "step 0")
    bad("gather_range", 13, [N("Gather", ["x", "i"], ["y"], axis=1)], x, {"i": i64(0, 3)}, "index 3 is out of range for size 3")
    bad("concat_axis", 13, [N("Concat", ["x", "x"], ["y"], axis=3)], x, {}, "axis 3 for rank 3")
    bad("lrn_size0", 13, [N("LRN", ["x"], ["y"], size=0)], x, {}, "size 0")
    bad("reshape_overflow", 13, [N("Reshape", ["x", "s"], ["y"])], x, {"s": i64(2 ** 40, 2 ** 40, -1)}, "more than 2^40 elements")
    bad("int_overflow", 13, [N("Add", ["a", "b"], ["s"]), N("Reshape", ["x", "s"], ["y"])], x,
        {"a": i64(2 ** 63 - 1), "b": i64(1)}, "integer overflow in 9223372036854775807 + 1")
    bad("huge_constant", 13, [N("ConstantOfShape", ["s"], ["c"]), N("Add", ["x", "c"], ["y"])], x,
        {"s": i64(2 ** 20, 2 ** 20)}, "more than 2^26 values")
    bad("huge_range", 13, [N("Range", ["a", "b", "d"], ["c"]), N("Reshape", ["x", "c"], ["y"])], x,
        {"a": np.array(0, np.int64), "b": np.array(2 ** 62, np.int64), "d": np.array(1, np.int64)}, "a range of")
    bad("pad_huge", 13, [N("Pad", ["x", "p"], ["y"])], x, {"p": i64(0, 0, 2 ** 40, 0, 0, 0)}, "pads")
    bad("transpose_perm", 13, [N("Transpose", ["x"], ["y"], perm=[0, 2 ** 32 + 1, 2])], x, {}, "perm[1] = 4294967297")
    bad("conv_group", 13, [N("Conv", ["x4", "w"], ["y"], group=2 ** 31 - 1), N("Reshape", ["x", "s"], ["x4"])],
        x, {"w": r(2, 3, 1, 1), "s": i64(2, 3, 2, 2)}, "group 2147483647")

    # LogSoftmax before opset 13 (the 2-D view from axis on) and after (one axis), own random stream
    x = (np.random.default_rng(12).random((2, 3, 4)) * 4 - 2).astype(np.float32)

    def log_softmax(v, axis):
        m = v - v.max(axis=axis, keepdims=True)
        return m - np.log(np.exp(m).sum(axis=axis, keepdims=True))
    y = log_softmax(x.reshape(2, 12), 1).reshape(2, 3, 4)
    write_model(out, "logsoftmax_axis", 12, [N("LogSoftmax", ["x"], ["y"])], x, y, {})
    y = log_softmax(x, 1)
    write_model(out, "logsoftmax_axis", 13, [N("LogSoftmax", ["x"], ["y"], axis=-2)], x, y, {})


BIG = [("alexnet", 224), ("vgg11_bn", 224), ("resnet18", 224), ("resnet50", 224), ("googlenet", 224),
       ("squeezenet1_1", 224), ("mobilenet_v2", 224)]


def big(out, names, opsets):
    import torchvision
    for seed, (name, size) in enumerate(BIG):
        if names and name not in names:
            continue
        for opset in opsets:
            torch.manual_seed(seed)
            kw = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
            model = randomise(getattr(torchvision.models, name)(**kw), seed)
            x = torch.rand(1, 3, size, size) * 2 - 1
            export(model, x, os.path.join(out, "%s_op%d.onnx" % (name, opset)), opset)
            print("wrote", name, opset, flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--big":
        opsets = [13, NEWEST]
        names = sys.argv[3:]
        if names[:1] == ["--opset"]:
            opsets = [NEWEST if names[1] == "newest" else int(names[1])]
            names = names[2:]
        big(sys.argv[2], names, opsets)
    elif sys.argv[1:] == ["--gaps"]:
        importer_gaps(os.path.join(HERE, "models"))   # only these (the others re-export byte-differently)
    else:
        small(os.path.join(HERE, "models"))
        handmade(os.path.join(HERE, "models"))
        importer_gaps(os.path.join(HERE, "models"))
