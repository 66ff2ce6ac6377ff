"""ONNX export checks for tests/cli/onnx_export.sh. `checker DIR`: onnx.checker accepts every DIR/X.onnx.
`ort DIR` / `torch DIR`: for every DIR/X.onnx (with X.input.npy and X.output.npy, convnet's output), ONNX
Runtime's output / PyTorch's (the model loaded into torch by onnx2torch, PyPI) matches convnet's within 1e-4
relative to the largest output. Prints one line per model ("ok NAME err" / "bad NAME why"); exit 3 when a
module is missing (the caller prints SKIP)."""
import glob, os, sys

try:
    import numpy as np
    import onnx
except ImportError as e:
    print("missing", e.name)
    sys.exit(3)

mode, d = sys.argv[1], sys.argv[2]
if mode == "ort":
    try:
        import onnxruntime as ort
    except ImportError as e:
        print("missing", e.name)
        sys.exit(3)
if mode == "torch":
    try:
        import torch
        from onnx2torch import convert
    except ImportError as e:
        print("missing", e.name)
        sys.exit(3)
bad = 0
for path in sorted(glob.glob(os.path.join(d, "*.onnx"))):
    name = os.path.basename(path)[:-5]
    try:
        if mode == "checker":
            onnx.checker.check_model(onnx.load(path))
            print("ok", name)
            continue
        x = np.load(os.path.join(d, name + ".input.npy"))
        ours = np.load(os.path.join(d, name + ".output.npy"))
        if mode == "torch":
            with torch.no_grad():
                ref = convert(path).eval()(torch.from_numpy(x)).numpy()
        else:
            s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            ref = s.run(None, {s.get_inputs()[0].name: x})[0]
        err = float(np.abs(ours - ref).max() / max(1e-30, float(np.abs(ref).max())))
        ok = ours.shape == ref.shape and err <= 1e-4
        print("ok" if ok else "bad", name, "%.3g" % err)
        bad += not ok
    except Exception as e:  # noqa: BLE001 - any failure is a bad model
        print("bad", name, str(e).splitlines()[0][:200])
        bad += 1
sys.exit(1 if bad else 0)
