#!/usr/bin/python3
"""bench/algos.py -- every convolution algorithm convnet has, forced one at a time, on the same layers, in one run.

    /usr/bin/python3 bench/algos.py [--sets resnet50,vgg16,...] [--filter NAME] [--batch 32] [--threads 2]
                                    [--backward] [--convnet build/convnet] [--rounds 2] [--min-time 0.2]
                                    [--metric median_ms|cpu_ms]

The tool for (re)tuning the per-shape algorithm choice (conv_im2col.c's choose()) on a new machine: for each
layer of the shape sets it runs `convnet bench conv` with CN_CONV_ALGO unset (auto) and set to each algorithm
that can run the layer (gemm always; direct; winograd for 3x3 stride 1; depthwise for groups > 1; first for
<= 4 input channels), alternating the algorithms round by round so that a drift of the machine's speed hits
them alike, and keeps each one's best median. --metric cpu_ms ranks by process CPU time per run instead
(divided by the threads): with --threads 1 it hardly moves when other processes share the machine. It prints ms per algorithm, the fastest, and what auto chose.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (the shape sets and their parser)


def candidates(s):
    algos = ["auto", "gemm", "direct"]
    if s["kh"] == 3 and s["kw"] == 3 and s["sh"] == 1 and s["dh"] == 0 and s["g"] == 1:
        algos.append("winograd")
    if s["g"] > 1:
        algos.append("depthwise")
    if s["ic"] <= 4 and s["g"] == 1:
        algos.append("first")
    return algos


def time_one(exe, s, algo, a):
    env = dict(os.environ)
    env.pop("CN_CONV_ALGO", None)
    if algo != "auto":
        env["CN_CONV_ALGO"] = algo
    cmd = [exe, "bench", "conv", "--batch", str(a.batch or s["mb"]), "--in", str(s["ic"]),
           "--size", "%dx%d" % (s["ih"], s["iw"]), "--out", str(s["oc"]), "--kernel", str(s["kh"]),
           "--stride", str(s["sh"]), "--pad", str(s["ph"]), "--groups", str(s["g"]),
           "--dilation", str(s["dh"] + 1), "--threads", str(a.threads), "--json", "--iters", "3",
           "--warmup", "1", "--min-time", str(a.min_time)]
    if a.backward:
        cmd.append("--backward")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(run.ALL_SETS))
    ap.add_argument("--filter", default="")
    ap.add_argument("--batch", type=int, default=0, help="override the sets' batch (32)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backward", action="store_true")
    ap.add_argument("--convnet", default=os.path.join(run.ROOT, "build", "convnet"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--metric", default="median_ms", choices=["median_ms", "cpu_ms"])
    a = ap.parse_args()
    shapes = [s for s in run.load_sets(a.sets.split(",")) if a.filter in s["name"]]
    print("%-28s %s" % ("layer", "%s per algorithm (best of %d rounds); fastest; auto's choice" % (a.metric, a.rounds)))
    for s in shapes:
        if s["kh"] != s["kw"] or s["sh"] != s["sw"] or s["ph"] != s["pw"] or s["ih"] != s["iw"]:
            continue
        best, chosen = {}, "?"
        for _ in range(a.rounds):
            for algo in candidates(s):
                r = time_one(a.convnet, s, algo, a)
                if r is None or (algo != "auto" and r.get("reason") != "forced"):
                    continue  # the algorithm does not apply to this layer
                if algo == "auto":
                    chosen = r["algorithm"]
                best[algo] = min(best.get(algo, float("inf")), r[a.metric])
        forced = {k: v for k, v in best.items() if k != "auto"}
        fastest = min(forced, key=forced.get) if forced else "-"
        cells = "  ".join("%s %.2f" % (k, v) for k, v in best.items())
        print("%-28s %s  | fastest %s, auto %s" % (s["name"], cells, fastest, chosen), flush=True)


if __name__ == "__main__":
    main()
