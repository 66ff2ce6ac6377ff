#!/usr/bin/python3
"""bench/run.py -- convnet against PyTorch, oneDNN and ONNX Runtime on the same convolution shapes, in one run.

    /usr/bin/python3 bench/run.py [--sets resnet50,vgg16,alexnet,mobilenet,lenet] [--batch 32] [--threads 2]
                                  [--backward] [--models] [--convnet build/convnet] [--min-time 0.3]
                                  [--json results.json] [--markdown table.md] [--filter NAME]
                                  [--gemm] [--iters 5] [--warmup 2] [--rounds 1]

For every layer of the shape sets (bench/shapes/*.txt, oneDNN benchdnn notation) it times:
  convnet      `convnet bench conv ... --json` (median ms of warm runs; the algorithm it chose)
  PyTorch      torch.nn.functional.conv2d, NCHW and channels_last, the better of the two (forward under
               no_grad; forward+backward with input, weight and bias gradients)
  oneDNN       bench/onednn_conv.c (compiled here when dnnl.h is installed: Debian's libdnnl-dev), direct
               and Winograd algorithms, forward only, oneDNN's own blocked layouts
  ONNX Runtime a one-Conv model exported by torch.onnx, forward only (when `import onnxruntime` works)
and prints a table of ratios: other framework's time / convnet's time (> 1: convnet is faster).
--models adds LeNet-5 training (batch 64, SGD momentum) and ResNet-50 inference (batch 1 and 16).
--gemm adds the machine's measured fp32 peak (bench/peak.c) and `convnet bench gemm` at 512, 1024 and 2048
on 1 and 2 threads, as a share of that peak.
The output ends with issue 5's targets, each marked met or not from this run's numbers.
--rounds N measures the whole layer list N times over and keeps, per layer and framework, the round with the
smallest median: on a shared VM the speed drifts for seconds at a time, which decides a ratio taken once.
Run it on a quiet machine: the load average is recorded with the results.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ALL_SETS = ["resnet50", "vgg16", "alexnet", "mobilenet", "lenet"]


def parse_shape(line):
    """benchdnn notation -> dict (mb g ic ih iw oc oh ow kh kw sh sw ph pw dh dw name)."""
    name = None
    m = re.search(r'n"([^"]*)"', line)
    if m:
        name = m.group(1)
        line = line[:m.start()]
    d = {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", line)}
    s = {"mb": d.get("mb", 32), "g": d.get("g", 1), "ic": d["ic"], "oc": d["oc"], "ih": d["ih"]}
    s["iw"] = d.get("iw", s["ih"])
    s["kh"] = d.get("kh", 1)
    s["kw"] = d.get("kw", s["kh"])
    s["sh"] = d.get("sh", 1)
    s["sw"] = d.get("sw", s["sh"])
    s["ph"] = d.get("ph", 0)
    s["pw"] = d.get("pw", s["ph"])
    s["dh"] = d.get("dh", 0)
    s["dw"] = d.get("dw", s["dh"])
    eff_h, eff_w = (s["kh"] - 1) * (s["dh"] + 1) + 1, (s["kw"] - 1) * (s["dw"] + 1) + 1
    s["oh"] = d.get("oh", (s["ih"] + 2 * s["ph"] - eff_h) // s["sh"] + 1)
    s["ow"] = d.get("ow", (s["iw"] + 2 * s["pw"] - eff_w) // s["sw"] + 1)
    s["name"] = name or line
    return s


def load_sets(names):
    shapes = []
    for n in names:
        with open(os.path.join(HERE, "shapes", n + ".txt")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    shapes.append(parse_shape(line))
    return shapes


def flops(s):
    return 2.0 * s["mb"] * s["oc"] * s["oh"] * s["ow"] * (s["ic"] // s["g"]) * s["kh"] * s["kw"]


# ---------------------------------------------------------------- convnet
ITERS, WARMUP = 5, 2  # set from --iters/--warmup


def run_convnet(exe, s, threads, backward, min_time):
    if s["kh"] != s["kw"] or s["sh"] != s["sw"] or s["ph"] != s["pw"] or s["dh"] != s["dw"] or s["ih"] != s["iw"]:
        return {"error": "non-square shapes are not expressible on the bench command line"}
    cmd = [exe, "bench", "conv", "--batch", str(s["mb"]), "--in", str(s["ic"]), "--size", "%dx%d" % (s["ih"], s["iw"]),
           "--out", str(s["oc"]), "--kernel", str(s["kh"]), "--stride", str(s["sh"]), "--pad", str(s["ph"]),
           "--groups", str(s["g"]), "--dilation", str(s["dh"] + 1), "--threads", str(threads), "--json",
           "--iters", str(ITERS), "--warmup", str(WARMUP), "--min-time", str(min_time)]
    if backward:
        cmd.append("--backward")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()}
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- PyTorch
def time_fn(fn, min_time, warmup=None, iters=None):
    warmup = WARMUP if warmup is None else warmup
    iters = ITERS if iters is None else iters
    for _ in range(warmup):
        fn()
    t, total = [], 0.0
    while len(t) < iters or (total < min_time and len(t) < 200):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        t.append(dt)
        total += dt
    return statistics.median(t) * 1e3, min(t) * 1e3


def run_torch(torch, s, threads, backward, min_time):
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    best = None
    for layout in ("nchw", "channels_last"):
        x = torch.randn(s["mb"], s["ic"], s["ih"], s["iw"])
        w = torch.randn(s["oc"], s["ic"] // s["g"], s["kh"], s["kw"]) * 0.1
        b = torch.randn(s["oc"])
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
            w = w.contiguous(memory_format=torch.channels_last)
        args = dict(stride=(s["sh"], s["sw"]), padding=(s["ph"], s["pw"]), dilation=(s["dh"] + 1, s["dw"] + 1),
                    groups=s["g"])
        if backward:
            x.requires_grad_(True), w.requires_grad_(True), b.requires_grad_(True)
            y0 = F.conv2d(x, w, b, **args)
            gy = torch.randn_like(y0)

            def fn():
                x.grad = w.grad = b.grad = None
                y = F.conv2d(x, w, b, **args)
                y.backward(gy)
        else:
            def fn():
                with torch.no_grad():
                    F.conv2d(x, w, b, **args)
        med, mn = time_fn(fn, min_time)
        if best is None or med < best["median_ms"]:
            best = {"median_ms": med, "min_ms": mn, "layout": layout}
    return best


# ---------------------------------------------------------------- oneDNN
def build_onednn(workdir):
    if not os.path.exists("/usr/include/dnnl.h") and not os.path.exists("/usr/include/oneapi/dnnl/dnnl.h"):
        return None
    cc = shutil.which("cc") or shutil.which("gcc")
    exe = os.path.join(workdir, "onednn_conv")
    r = subprocess.run([cc, "-O2", os.path.join(HERE, "onednn_conv.c"), "-ldnnl", "-o", exe], capture_output=True,
                       text=True)
    return exe if r.returncode == 0 else None


def run_onednn(exe, s, threads, algorithm, min_time):
    args = [exe, algorithm] + [str(s[k]) for k in ("mb", "g", "ic", "ih", "iw", "oc", "oh", "ow", "kh", "kw", "sh",
                                                   "sw", "ph", "pw", "dh", "dw")] + [str(min_time)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": (r.stderr or r.stdout).strip()[:200]}


# ---------------------------------------------------------------- ONNX Runtime
def run_ort(torch, ort, s, threads, min_time, workdir):
    import numpy as np
    conv = torch.nn.Conv2d(s["ic"], s["oc"], (s["kh"], s["kw"]), (s["sh"], s["sw"]), (s["ph"], s["pw"]),
                           (s["dh"] + 1, s["dw"] + 1), s["g"])
    x = torch.randn(s["mb"], s["ic"], s["ih"], s["iw"])
    path = os.path.join(workdir, "conv.onnx")
    torch.onnx.export(conv, x, path, input_names=["x"], output_names=["y"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    xn = x.numpy().astype(np.float32)
    med, mn = time_fn(lambda: sess.run(None, {"x": xn}), min_time)
    return {"median_ms": med, "min_ms": mn}


# ---------------------------------------------------------------- models
def run_models(exe, torch, threads, min_time):
    out = []

    def cn(name, batch, train):
        cmd = [exe, "bench", "model", name, "--batch", str(batch), "--threads", str(threads), "--json", "--iters", str(ITERS),
               "--warmup", str(WARMUP), "--min-time", str(min_time)] + (["--train"] if train else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return {"error": r.stderr.strip()}
        return json.loads(r.stdout.strip().splitlines()[-1])

    torch.set_num_threads(threads)
    nn = torch.nn
    # LeNet-5 training step, batch 64, SGD momentum (the lecture's 20-50-500 variant)
    lenet = nn.Sequential(nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5, padding=2),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10))
    opt = torch.optim.SGD(lenet.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lenet(x), y).backward()
        opt.step()
    med, _ = time_fn(step, min_time)
    c = cn("lenet5", 64, True)
    out.append({"what": "LeNet-5 training step, batch 64 (images/s)", "torch_ms": med, "convnet": c,
                "torch_images_per_s": 64 / (med * 1e-3)})
    try:
        import torchvision
        resnet = torchvision.models.resnet50().eval()
        for batch in (1, 16):
            xr = torch.randn(batch, 3, 224, 224)
            best = None
            for layout in ("nchw", "channels_last"):
                m = resnet.to(memory_format=torch.channels_last) if layout == "channels_last" else resnet
                xi = xr.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else xr

                def fwd():
                    with torch.no_grad():
                        m(xi)
                med, _ = time_fn(fwd, min_time, warmup=1, iters=3)
                best = med if best is None else min(best, med)
            out.append({"what": "ResNet-50 inference, batch %d" % batch, "torch_ms": best,
                        "convnet": cn("resnet50", batch, False)})
    except Exception as e:  # torchvision missing or failing: say so
        out.append({"what": "ResNet-50 inference", "error": str(e)})
    return out


def fmt_ratio(other, mine):
    if other is None or mine is None or mine <= 0:
        return "-"
    return "%.2f" % (other / mine)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(ALL_SETS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backward", action="store_true", help="also time forward+backward (convnet and PyTorch)")
    ap.add_argument("--models", action="store_true", help="also LeNet-5 training and ResNet-50 inference")
    ap.add_argument("--convnet", default=os.path.join(ROOT, "build", "convnet"))
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds of timed runs per measurement (at least 5)")
    ap.add_argument("--filter", default="", help="only layers whose name contains this")
    ap.add_argument("--gemm", action="store_true", help="also the fp32 peak and convnet's GEMM against it")
    ap.add_argument("--iters", type=int, default=5, help="timed runs per measurement (at least)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--markdown", help="write the table here (Markdown)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure every layer this many times over, in turn; each framework's best round counts "
                         "(a shared machine has slow phases of seconds that would otherwise decide a ratio)")
    a = ap.parse_args()
    global ITERS, WARMUP
    ITERS, WARMUP = max(1, a.iters), max(0, a.warmup)

    try:
        import torch
    except ImportError:
        torch = None
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    workdir = tempfile.mkdtemp(prefix="cnbench")
    onednn = build_onednn(workdir)
    blas = torch_blas(torch) if torch else None
    if blas and "openblas" not in blas and "mkl" not in blas:
        print("warning: PyTorch's BLAS is %s, not an optimised one: its matrix products (Linear layers, some "
              "convolution gradients) run many times slower than they should; install OpenBLAS "
              "(scripts/install-deps.sh --dev)" % blas, file=sys.stderr, flush=True)
    shapes = [s for s in load_sets(a.sets.split(",")) if a.filter in s["name"]]
    load0 = os.getloadavg()
    results = [None] * len(shapes)
    for rnd in range(max(1, a.rounds)):
        if a.rounds > 1:
            print("round %d of %d" % (rnd + 1, a.rounds), flush=True)
        for i, s in enumerate(shapes):
            r = measure_layer(a, s, torch, ort, onednn, workdir)
            results[i] = r if results[i] is None else best_of(results[i], r)
            print(row_text(r, a.backward), flush=True)
    models = run_models(a.convnet, torch, a.threads, a.min_time) if a.models and torch else []
    gemm = run_gemm(a.convnet, workdir) if a.gemm else None
    load1 = os.getloadavg()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "threads": a.threads, "batch": a.batch, "rounds": a.rounds,
            "load_before": load0, "load_after": load1, "cpu": cpu_model(),
            "torch": torch.__version__ if torch else None, "onnxruntime": ort.__version__ if ort else None,
            "onednn": bool(onednn), "torch_blas": blas}
    table = markdown(results, models, meta, a.backward)
    if gemm:
        table += "\n\n" + gemm_markdown(gemm)
    table += "\n\n" + targets_markdown(results, models, gemm, a.backward)
    print()
    print(table)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "layers": results, "models": models, "gemm": gemm}, f, indent=1)
    shutil.rmtree(workdir, ignore_errors=True)


def best_of(r0, r1):
    """Per framework, the measurement with the smaller median (each a warm-run median of its round)."""
    out = dict(r0)
    for k, v in r1.items():
        old = out.get(k)
        if isinstance(v, dict) and "median_ms" in v and (not isinstance(old, dict) or "median_ms" not in old
                                                         or v["median_ms"] < old["median_ms"]):
            out[k] = v
    return out


def measure_layer(a, s, torch, ort, onednn, workdir):
    """Every framework on one layer, once."""
    s["mb"] = a.batch
    r = {"shape": s, "gflop": flops(s) / 1e9}
    r["convnet"] = run_convnet(a.convnet, s, a.threads, False, a.min_time)
    if torch:
        r["torch"] = run_torch(torch, s, a.threads, False, a.min_time)
    if onednn:
        r["onednn_direct"] = run_onednn(onednn, s, a.threads, "direct", a.min_time)
        if s["kh"] == 3 and s["sh"] == 1 and s["g"] == 1 and s["dh"] == 0:
            r["onednn_winograd"] = run_onednn(onednn, s, a.threads, "winograd", a.min_time)
    if ort and torch:
        try:
            r["ort"] = run_ort(torch, ort, s, a.threads, a.min_time, workdir)
        except Exception as e:
            r["ort"] = {"error": str(e)[:200]}
    if a.backward:
        r["convnet_bwd"] = run_convnet(a.convnet, s, a.threads, True, a.min_time)
        if torch:
            r["torch_bwd"] = run_torch(torch, s, a.threads, True, a.min_time)
    return r


# ---------------------------------------------------------------- GEMM against the measured peak
def run_gemm(exe, workdir):
    cc = shutil.which("cc") or shutil.which("gcc")
    peak_exe = os.path.join(workdir, "peak")
    peak = {}
    r = subprocess.run([cc, "-O2", "-fopenmp", os.path.join(HERE, "peak.c"), "-o", peak_exe], capture_output=True,
                       text=True)
    if r.returncode == 0:
        out = subprocess.run([peak_exe], capture_output=True, text=True).stdout
        for line in out.splitlines():  # "threads T: [avx512 X GFLOP/s, ]avx2 Y GFLOP/s": the better of the two
            m = re.match(r"threads (\d+): (.*)", line)
            if m:
                peak[int(m.group(1))] = max(float(v) for v in re.findall(r"avx\d+ ([\d.]+) GFLOP/s", m.group(2)))
    sizes = []
    for n in (512, 1024, 2048):
        for t in (1, 2):
            cmd = [exe, "bench", "gemm", "--m", str(n), "--n", str(n), "--k", str(n), "--threads", str(t), "--json",
                   "--min-time", "1"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            try:
                j = json.loads(r.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                j = {"error": r.stderr.strip()[:200]}
            j.update(size=n, threads=t)
            if "median_ms" in j:
                j["median_gflops"] = 2.0 * n ** 3 / (j["median_ms"] * 1e-3) / 1e9
                if peak.get(t):
                    j["share"] = j["median_gflops"] / peak[t]
            sizes.append(j)
    return {"peak": peak, "sizes": sizes}


def gemm_markdown(gemm):
    lines = ["Peak (bench/peak.c): " + ", ".join("%d thread%s %.1f GFLOP/s" % (t, "s" if t > 1 else "", v)
                                                for t, v in sorted(gemm["peak"].items())), "",
             "| GEMM | threads | median ms | GFLOP/s | share of peak |", "|---|---:|---:|---:|---:|"]
    for j in gemm["sizes"]:
        lines.append("| %d^3 | %d | %s | %s | %s |" % (
            j["size"], j["threads"], "%.3f" % j["median_ms"] if "median_ms" in j else j.get("error", "-"),
            "%.1f" % j["median_gflops"] if "median_gflops" in j else "-",
            "%.0f %%" % (100 * j["share"]) if "share" in j else "-"))
    return "\n".join(lines)


def targets_markdown(results, models, gemm, backward):
    """Issue 5's targets, each met or not by this run (only those this run measured)."""
    def ratio(r, other, mine="convnet"):
        a, b = ms(r, other), ms(r, mine)
        return a / b if a and b else None

    rows = []

    def check(what, pairs, need):
        vals = [(n, v) for n, v in pairs if v is not None]
        if not vals:
            return
        bad = [(n, v) for n, v in vals if v < need]
        worst = min(vals, key=lambda p: p[1])
        rows.append("| %s | >= %.1fx | %d of %d | %s %.2fx | %s |" % (
            what, need, len(vals) - len(bad), len(vals), worst[0], worst[1], "met" if not bad else "not met"))

    name = lambda r: r["shape"]["name"]
    check("conv forward vs PyTorch, every layer", [(name(r), ratio(r, "torch")) for r in results], 1.0)
    direct = [r for r in results if r["shape"]["kh"] in (1, 3) and r["shape"]["g"] == 1]
    check("conv forward vs oneDNN direct, 3x3 and 1x1", [(name(r), ratio(r, "onednn_direct")) for r in direct], 0.9)
    wino = [r for r in results if r["convnet"].get("algorithm", "").startswith("winograd")]
    check("conv forward vs oneDNN direct where Winograd runs", [(name(r), ratio(r, "onednn_direct")) for r in wino],
          1.3)
    if backward:
        check("conv forward+backward vs PyTorch, every layer",
              [(name(r), ratio(r, "torch_bwd", "convnet_bwd")) for r in results], 1.2)
    need = {r"LeNet-5": 3.0, r"batch 1\b": 1.5, r"batch 16\b": 1.3}
    for m in models:
        c = m.get("convnet", {})
        for key, v in need.items():
            if re.search(key, m["what"]) and "median_ms" in c and m.get("torch_ms"):
                check(m["what"].replace(" (images/s)", ""), [("", m["torch_ms"] / c["median_ms"])], v)
    if gemm:
        for t in (1, 2):
            shares = [("%d^3" % j["size"], j.get("share")) for j in gemm["sizes"] if j["threads"] == t]
            vals = [(n, v) for n, v in shares if v is not None]
            if vals:
                worst = min(vals, key=lambda p: p[1])
                ok = all(v >= 0.9 for _, v in vals)
                rows.append("| GEMM, %d thread%s, sizes >= 512 | >= 90 %% of peak | %d of %d | %s %.0f %% | %s |" % (
                    t, "s" if t > 1 else "", sum(v >= 0.9 for _, v in vals), len(vals), worst[0], 100 * worst[1],
                    "met" if ok else "not met"))
    return "\n".join(["Issue 5 targets in this run:", "", "| target | need | layers meeting it | worst | |",
                      "|---|---:|---:|---|---|"] + rows)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def ms(r, key):
    v = r.get(key)
    return v.get("median_ms") if isinstance(v, dict) else None


def row_text(r, backward):
    s = r["shape"]
    c = r["convnet"]
    parts = ["%-32s" % s["name"], "convnet %8.2f ms %-16s" % (c.get("median_ms", float("nan")), c.get("algorithm", c.get("error", "?"))[:16])]
    for key in ("torch", "onednn_direct", "onednn_winograd", "ort"):
        if key in r:
            parts.append("%s x%s" % (key, fmt_ratio(ms(r, key), ms(r, "convnet"))))
    if backward:
        parts.append("fwd+bwd torch x%s" % fmt_ratio(ms(r, "torch_bwd"), ms(r, "convnet_bwd")))
    return "  ".join(parts)


def torch_blas(torch):
    """The BLAS library PyTorch's matrix products run on, as loaded into this process (Debian's PyTorch takes
    whichever libblas.so.3 the alternatives system points at: the reference BLAS unless OpenBLAS is installed)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "libblas" in line or "libmkl" in line}
    except OSError:
        return None
    names = sorted(os.path.realpath(l) for l in libs if l.startswith("/"))
    return ", ".join(os.path.relpath(n, "/usr/lib/x86_64-linux-gnu") if n.startswith("/usr/lib/x86_64-linux-gnu")
                     else n for n in names) or None


def markdown(results, models, meta, backward):
    lines = ["Measured %s on %s, %d threads, batch %d; load average %.1f before, %.1f after; PyTorch %s%s%s%s." % (
        meta["date"], meta["cpu"], meta["threads"], meta["batch"], meta["load_before"][0], meta["load_after"][0],
        meta["torch"], " (BLAS: %s)" % meta["torch_blas"] if meta.get("torch_blas") else "",
        ", oneDNN (C API)" if meta["onednn"] else "",
        ", ONNX Runtime %s" % meta["onnxruntime"] if meta["onnxruntime"] else ""),
        "Ratios are the other framework's median time / convnet's (> 1: convnet faster)%s." % (
            "; every layer measured in %d rounds, each framework's best round" % meta["rounds"]
            if meta.get("rounds", 1) > 1 else ""), ""]
    head = "| layer | GFLOP | convnet ms | GFLOP/s | algorithm | PyTorch x | oneDNN direct x | oneDNN Winograd x | ORT x |"
    sep = "|---|---:|---:|---:|---|---:|---:|---:|---:|"
    if backward:
        head += " fwd+bwd convnet ms | fwd+bwd PyTorch x |"
        sep += "---:|---:|"
    lines += [head, sep]
    for r in results:
        c = r["convnet"]
        row = "| %s | %.2f | %s | %s | %s | %s | %s | %s | %s |" % (
            r["shape"]["name"], r["gflop"], "%.2f" % c["median_ms"] if "median_ms" in c else "-",
            "%.0f" % c["gflops"] if "gflops" in c else "-", c.get("algorithm", "-"),
            fmt_ratio(ms(r, "torch"), ms(r, "convnet")), fmt_ratio(ms(r, "onednn_direct"), ms(r, "convnet")),
            fmt_ratio(ms(r, "onednn_winograd"), ms(r, "convnet")), fmt_ratio(ms(r, "ort"), ms(r, "convnet")))
        if backward:
            cb = r.get("convnet_bwd", {})
            row += " %s | %s |" % ("%.2f" % cb["median_ms"] if "median_ms" in cb else "-",
                                   fmt_ratio(ms(r, "torch_bwd"), ms(r, "convnet_bwd")))
        lines.append(row)
    if models:
        lines += ["", "| model | convnet ms | PyTorch ms | ratio |", "|---|---:|---:|---:|"]
        for m in models:
            c = m.get("convnet", {})
            lines.append("| %s | %s | %s | %s |" % (
                m["what"], "%.2f" % c["median_ms"] if "median_ms" in c else c.get("error", m.get("error", "-"))[:60],
                "%.2f" % m["torch_ms"] if "torch_ms" in m else "-",
                fmt_ratio(m.get("torch_ms"), c.get("median_ms"))))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
