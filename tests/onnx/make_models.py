#!/usr/bin/python3
"""ONNX models for convnet's import tests, exported from PyTorch with seeded random weights in eval mode.

  make_models.py             small models -> tests/onnx/models/ (committed; keep them < 1 MB in total)
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
    else:
        small(os.path.join(HERE, "models"))
        handmade(os.path.join(HERE, "models"))
