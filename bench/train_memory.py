#!/usr/bin/python3
"""train_memory.py - peak memory of a ResNet-50 training step, convnet against PyTorch (issue 5 target:
convnet's peak <= 0.7x PyTorch's at batch 16).

Each side runs in a fresh process and reports two numbers:
  - whole: the process's peak resident set (VmHWM of /proc/self/status) after `--steps` training steps;
  - increment: that peak minus the resident set measured once the model, the optimizer and the input batch
    exist but no step has run yet (what the training step itself adds over the model's resident state:
    activations, gradients, momentum buffers, workspaces, allocator caches).
A step is forward, cross-entropy loss, backward, SGD momentum update (lr 0.01, momentum 0.9) on random data,
ResNet-50 (torchvision's, 1000 classes, 3x224x224), NCHW, --threads threads on both sides.

Run with Debian's Python, which has torch 1.13 and torchvision:
    /usr/bin/python3 bench/train_memory.py [--convnet build/convnet] [--batch 16] [--threads 2] [--steps 3]
"""
import argparse
import json
import os
import subprocess
import sys


def status_mb():
    rss = hwm = None
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024.0
    return rss, hwm


def torch_child(batch, threads, steps, channels_last):
    import torch
    import torchvision

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet50(num_classes=1000)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 224, 224)
    y = torch.arange(batch) % 1000
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    loss_fn = torch.nn.CrossEntropyLoss()
    rss_model, _ = status_mb()
    for _ in range(steps):
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    _, peak = status_mb()
    print(json.dumps({"rss_model_mb": rss_model, "peak_rss_mb": peak, "peak_increment_mb": peak - rss_model,
                      "loss": float(loss)}))


def run_torch(args, channels_last):
    cmd = [sys.executable, __file__, "--child-torch", "--batch", str(args.batch), "--threads", str(args.threads),
           "--steps", str(args.steps)] + (["--channels-last"] if channels_last else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_convnet(args):
    cmd = [args.convnet, "bench", "model", "resnet50", "--train", "--batch", str(args.batch), "--threads",
           str(args.threads), "--warmup", "1", "--iters", str(max(args.steps - 1, 1)), "--min-time", "0", "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--convnet", default=os.path.join(here, "..", "build", "convnet"))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--channels-last", action="store_true", help="also measure PyTorch with channels_last")
    ap.add_argument("--child-torch", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_torch:
        torch_child(args.batch, args.threads, args.steps, args.channels_last)
        return
    rows = [("pytorch", run_torch(args, False))]
    if args.channels_last:
        rows.append(("pytorch channels_last", run_torch(args, True)))
    rows.append(("convnet", run_convnet(args)))
    print(f"ResNet-50 training step, batch {args.batch}, {args.threads} threads, peak over {args.steps} steps")
    print(f"{'':24s} {'model MB':>10s} {'peak MB':>10s} {'increment MB':>13s}")
    for name, r in rows:
        print(f"{name:24s} {r['rss_model_mb']:10.1f} {r['peak_rss_mb']:10.1f} {r['peak_increment_mb']:13.1f}")
    ours = rows[-1][1]
    for name, r in rows[:-1]:
        print(f"convnet / {name}: whole process {ours['peak_rss_mb'] / r['peak_rss_mb']:.2f}x, "
              f"increment {ours['peak_increment_mb'] / r['peak_increment_mb']:.2f}x (target <= 0.70x)")
    if "plan_mb" in ours:
        print(f"convnet plan (arena) {ours['plan_mb']:.1f} MB")


if __name__ == "__main__":
    main()
