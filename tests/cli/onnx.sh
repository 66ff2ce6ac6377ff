#!/usr/bin/env bash
# `convnet run` on the committed PyTorch-exported models (tests/onnx/models): outputs written as .pb / .npy
# match PyTorch's within 1e-4 of the largest logit (compared with numpy + onnx when python3 has them, else
# a visible SKIP for the comparison only), --time, and the errors: wrong shape, missing input, bad files.
# $1: the convnet binary, $2: the source directory.
set -u
cn="$1"
src="$2"
models="$src/tests/onnx/models"
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

py=""
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c "import numpy, onnx" 2>/dev/null; then py="$p"; break; fi
done
[ -z "$py" ] && echo "SKIP: numeric comparison of convnet run's output files (python3 with numpy and onnx not found; test_onnx compares the same models through the API)"
compare() {  # ours reference -> prints the error, fails above 1e-4
  "$py" - "$1" "$2" <<'PY'
import sys, numpy as np
from onnx import numpy_helper, TensorProto
def load(p):
    if p.endswith(".npy"):
        return np.load(p)
    t = TensorProto()
    t.ParseFromString(open(p, "rb").read())
    return numpy_helper.to_array(t)
a, b = load(sys.argv[1]), load(sys.argv[2])
err = np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30) if a.shape == b.shape else float("inf")
print("%.3g" % err)
sys.exit(0 if err <= 1e-4 else 1)
PY
}

for m in "$models"/*.onnx; do
  name=$(basename "$m" .onnx)
  d="$models/$name"
  ext=pb; [ -f "$d/input_0.npy" ] && ext=npy
  out="$tmp/$name.$ext"
  msg=$("$cn" run "$m" -i "$d/input_0.$ext" -o "$out" 2>&1); rc=$?
  check "$name: run exits 0 ($msg)" '[ $rc -eq 0 ] && [ -s "$out" ]'
  if [ -n "$py" ] && [ $rc -eq 0 ]; then
    err=$(compare "$out" "$d/output_0.$ext"); rc=$?
    check "$name: matches PyTorch (error $err)" '[ $rc -eq 0 ]'
    echo "$name: error $err relative to the largest logit"
  fi
done

# .pb in, .npy out (the format follows each file's extension)
out=$("$cn" run "$models/lenet5_op13.onnx" -i "$models/lenet5_op13/input_0.pb" -o "$tmp/l.npy" --time 5 --threads 1 2>&1); rc=$?
check "--time prints the median latency" '[ $rc -eq 0 ] && [[ "$out" == *"median latency"*"over 5 runs"*"1 threads"* ]]'
[ -n "$py" ] && { err=$(compare "$tmp/l.npy" "$models/lenet5_op13/output_0.pb"); check "pb in, npy out matches" '[ $? -eq 0 ]'; }

# errors: one line, a non-zero exit
out=$("$cn" run "$models/blocks_op13.onnx" -i "$models/lenet5_op13/input_0.pb" -o "$tmp/x.pb" 2>&1); rc=$?
check "wrong input shape names the input and both shapes" '[ $rc -eq 1 ] && [[ "$out" == *"input '"'"'x'"'"' expects shape 2x3x15x15, given 2x1x28x28"* ]]'
out=$("$cn" run "$models/blocks_op13.onnx" -o "$tmp/x.pb" 2>&1); rc=$?
check "missing -i" '[ $rc -eq 2 ] && [[ "$out" == *"has 1 input, 0 given with -i"* ]]'
out=$("$cn" run "$models/blocks_op13.onnx" -i "$models/blocks_op13/input_0.pb" -o a.pb -o b.pb 2>&1); rc=$?
check "too many -o" '[ $rc -eq 2 ] && [[ "$out" == *"has 1 output, 2 given with -o"* ]]'
head -c 1000 "$models/blocks_op13.onnx" > "$tmp/trunc.onnx"
out=$("$cn" run "$tmp/trunc.onnx" -i "$models/blocks_op13/input_0.pb" -o "$tmp/x.pb" 2>&1); rc=$?
check "truncated model: one clear line" '[ $rc -eq 1 ] && [[ "$out" == *"not an ONNX model (truncated or corrupt protobuf)"* ]] && [ $(echo "$out" | wc -l) -eq 1 ]'
head -c 100 "$models/blocks_op13/input_0.pb" > "$tmp/trunc.pb"
out=$("$cn" run "$models/blocks_op13.onnx" -i "$tmp/trunc.pb" -o "$tmp/x.pb" 2>&1); rc=$?
check "truncated input tensor" '[ $rc -eq 1 ] && [[ "$out" == *"trunc.pb"* ]]'
out=$("$cn" run "$models/blocks_op13.onnx" -i /nonexistent.npy -o "$tmp/x.pb" 2>&1); rc=$?
check "missing input file" '[ $rc -eq 1 ] && [[ "$out" == *"/nonexistent.npy"* ]]'
out=$("$cn" run "$models/blocks_op13.onnx" --frob 2>&1); rc=$?
check "unknown option" '[ $rc -eq 2 ] && [[ "$out" == *"unknown option '"'"'--frob'"'"'"* ]]'
out=$("$cn" run --help); check "help" '[[ "$out" == "usage: convnet run"* ]]'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
