#!/usr/bin/env bash
# torchvision models (alexnet, vgg11_bn, resnet18, resnet50, googlenet, squeezenet1_1, mobilenet_v2) with
# seeded random weights, exported at opset 13 and the newest opset PyTorch supports, made at test time
# (hundreds of MB: never committed) one at a time, then `convnet run` must match PyTorch within 1e-4 of the
# largest logit. Without python3 + torch + torchvision + onnx: a visible SKIP. CN_ONNX_BIG=0 skips too.
# $1: the convnet binary, $2: the source directory, $3: the opset (13, or "newest"). Run by
# tests/cli/onnx_big_op13.sh and onnx_big_newest.sh (one ctest each, for the time limit).
set -u
cn="$1"
src="$2"
opset="$3"
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
py=/usr/bin/python3
if [ "${CN_ONNX_BIG:-1}" = "0" ]; then
  echo "SKIP: torchvision models at opset $opset (CN_ONNX_BIG=0)"; echo "0 passed, 0 failed"; exit 0
fi
if ! [ -x "$py" ] || ! "$py" -c "import torch, torchvision, onnx, numpy" 2>/dev/null; then
  echo "SKIP: torchvision models at opset $opset (need python3 with torch, torchvision and onnx: apt-get install python3-torchvision python3-onnx)"
  echo "0 passed, 0 failed"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in alexnet vgg11_bn resnet18 resnet50 googlenet squeezenet1_1 mobilenet_v2; do
  "$py" "$src/tests/onnx/make_models.py" --big "$tmp" --opset "$opset" "$name" >/dev/null 2>&1
  check "$name: exported" '[ -n "$(ls "$tmp"/*.onnx 2>/dev/null)" ]'
  for m in "$tmp"/*.onnx; do
    [ -f "$m" ] || continue
    stem=$(basename "$m" .onnx)
    d="$tmp/$stem"
    out=$("$cn" run "$m" -i "$d/input_0.pb" -o "$tmp/out.pb" 2>&1); rc=$?
    check "$stem: run ($out)" '[ $rc -eq 0 ]'
    err=$("$py" - "$tmp/out.pb" "$d/output_0.pb" <<'PY'
import sys, numpy as np
from onnx import numpy_helper, TensorProto
def load(p):
    t = TensorProto()
    t.ParseFromString(open(p, "rb").read())
    return numpy_helper.to_array(t)
a, b = load(sys.argv[1]), load(sys.argv[2])
print("%.3g" % (np.abs(a.astype(np.float64) - b).max() / np.abs(b).max()))
sys.exit(0 if a.shape == b.shape and np.abs(a.astype(np.float64) - b).max() <= 1e-4 * np.abs(b).max() else 1)
PY
); rc=$?
    check "$stem: matches PyTorch (error $err)" '[ $rc -eq 0 ]'
    echo "$stem: error $err relative to the largest logit"
    rm -rf "$m" "$d" "$tmp/out.pb"
  done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
