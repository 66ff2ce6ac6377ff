"""Shared helpers for the golden-file generators (gen_*.py): PyTorch reference values saved as safetensors.

Reference values are computed in float64 from float32 inputs and parameters (so the stored float32 inputs
are exact) and stored as float32. File layout, as tests/util/cn_test.h reads it:
  in.<i>            op inputs (labels as float class indices)
  param.<name>      parameter values before the step (PyTorch state-dict names without the module prefix)
  out, gout         the output and a random upstream gradient
  grad.in.<i>       dL/d(input i), for float inputs
  grad.param.<name> dL/d(param)
  after.<name>      buffers after the training forward (batch-norm running statistics)
  eval.out          the output in eval mode after that step
  metadata: op, attrs (JSON), mode ("train" or "eval")
"""
import json
import os
import struct

import numpy as np
import torch

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def save(family, name, op, attrs, tensors, mode="train"):
    header = {"__metadata__": {"op": op, "attrs": json.dumps(attrs, sort_keys=True), "mode": mode}}
    blobs, offset = [], 0
    for key in sorted(tensors):
        a = tensors[key]
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
        b = a.tobytes()
        header[key] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    os.makedirs(os.path.join(DATA, family), exist_ok=True)
    with open(os.path.join(DATA, family, name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def rand(*shape, lo=-1.0, hi=1.0):
    """float32 uniform values, returned as float64 (exactly representable in float32)."""
    return (torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo).double()


def run_module(family, name, op, attrs, module, inputs, grad_inputs=None, eval_too=False, mode="train",
               seed=0):
    """Run module on inputs in float64 and save everything a C test compares.

    inputs: list of float64 tensors (labels too). grad_inputs: indices of inputs that get gradients
    (default: all float inputs that are not labels, i.e. all). The module's parameters are rounded to
    float32 first so that the stored values are exactly what the C side loads."""
    torch.manual_seed(seed + 1)
    module = module.double()
    with torch.no_grad():
        for p in list(module.parameters()) + list(module.buffers()):
            if p.is_floating_point():
                p.copy_(p.float().double())
    if grad_inputs is None:
        grad_inputs = list(range(len(inputs)))
    xs = []
    for i, x in enumerate(inputs):
        x = x.clone().double()
        if i in grad_inputs:
            x.requires_grad_(True)
        xs.append(x)
    t = {}
    for i, x in enumerate(xs):
        t["in.%d" % i] = x
    for k, v in module.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        t["param." + k] = v.clone()
    module.train(mode == "train")
    y = module(*xs)
    t["out"] = y
    if mode == "train":
        gy = rand(*y.shape) if y.dim() > 0 else torch.tensor(1.0, dtype=torch.float64)
        gy = gy.reshape(y.shape)
        t["gout"] = gy.reshape(-1) if y.dim() == 0 else gy
        if y.dim() == 0:
            t["out"] = y.reshape(1)
            t["gout"] = gy.reshape(1)
        y.backward(gy)
        for i in grad_inputs:
            t["grad.in.%d" % i] = xs[i].grad
        for k, p in module.named_parameters():
            if p.grad is not None:
                t["grad.param." + k] = p.grad
        for k, b in module.named_buffers():
            if not k.endswith("num_batches_tracked"):
                t["after." + k] = b
        if eval_too:
            module.eval()
            with torch.no_grad():
                t["eval.out"] = module(*xs)
    save(family, name, op, attrs, t, mode)
