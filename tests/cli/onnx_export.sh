#!/usr/bin/env bash
# convnet export MODEL OUT.onnx: the file is accepted by onnx.checker (Debian's python3-onnx), and ONNX Runtime
# (PyPI onnxruntime) and PyTorch (the model converted by PyPI's onnx2torch; zoo models) give convnet's outputs
# within 1e-4 relative to the largest one; --fold-bn; a trained
# checkpoint; errors. Also runs tests/test_onnx_export with CN_ONNX_EXPORT_KEEP to check its models (every
# exportable op, randomised batch-norm statistics) the same way. Missing Python modules: SKIP lines.
# $1: the convnet binary, $2: the source directory.
set -u
cn="$1"
src="${2:-$(dirname "$0")/../..}"
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib/check.sh"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
helper="$src/tests/cli/onnx_export_check.py"
skipped=0

# zoo models, fresh weights: export, then run the export with convnet on a random input
mkdir -p "$tmp/zoo"
"$py" -c 'import numpy' 2>/dev/null && have_numpy=1 || have_numpy=0
for spec in "lenet5 1x28x28" "resnet20 3x32x32" "resnet18-small 3x32x32" "googlenet 3x32x32"; do
  m=${spec% *} shp=${spec#* }
  out=$("$cn" export "$m" "$tmp/zoo/$m.onnx" --input "$shp" --classes 10 2>&1); rc=$?
  check "export $m exits 0" '[ $rc -eq 0 ] && [[ "$out" == "wrote $tmp/zoo/$m.onnx: $m, "*"ONNX opset 13" ]]'
  if [ $have_numpy -eq 1 ]; then
    "$py" -c "import numpy as np; np.save('$tmp/zoo/$m.input.npy', np.random.default_rng(1).standard_normal((2,${shp//x/,})).astype(np.float32))"
    "$cn" run "$tmp/zoo/$m.onnx" -i "$tmp/zoo/$m.input.npy" -o "$tmp/zoo/$m.output.npy" >/dev/null 2>&1; rc=$?
    check "convnet run $m.onnx at batch 2 (symbolic batch axis)" '[ $rc -eq 0 ]'
  fi
done
out=$("$cn" export resnet20 "$tmp/zoo/resnet20-folded.onnx" --fold-bn 2>&1); rc=$?
check "--fold-bn with .onnx" '[ $rc -eq 0 ] && [[ "$out" == *"21 batch norm layers folded"* ]]'
check "folded export has no BatchNormalization" '! grep -q BatchNormalization "$tmp/zoo/resnet20-folded.onnx" && grep -q BatchNormalization "$tmp/zoo/resnet20.onnx"'
rm -f "$tmp/zoo/resnet20-folded.onnx"

# a trained checkpoint (non-trivial batch-norm statistics) exported
fm="${CN_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
if [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
  "$cn" train resnet20 --data fashion-mnist --limit 128 --batch-size 32 --epochs 1 --threads 2 --out "$tmp/t" >/dev/null 2>&1
  out=$("$cn" export "$tmp/t/model.safetensors" "$tmp/zoo/trained.onnx" 2>&1); rc=$?
  check "export of a trained checkpoint" '[ $rc -eq 0 ]'
  if [ $have_numpy -eq 1 ]; then
    "$py" -c "import numpy as np; np.save('$tmp/zoo/trained.input.npy', np.random.default_rng(2).random((3,1,28,28)).astype(np.float32))"
    "$cn" run "$tmp/zoo/trained.onnx" -i "$tmp/zoo/trained.input.npy" -o "$tmp/zoo/trained.output.npy" >/dev/null 2>&1
    "$cn" export "$tmp/t/model.safetensors" "$tmp/zoo/trained-folded.onnx" --fold-bn >/dev/null 2>&1
    cp "$tmp/zoo/trained.input.npy" "$tmp/zoo/trained-folded.input.npy"
    "$cn" run "$tmp/zoo/trained-folded.onnx" -i "$tmp/zoo/trained.input.npy" -o "$tmp/zoo/trained-folded.output.npy" >/dev/null 2>&1
    check "the folded export computes the unfolded one's logits (1e-4)" \
      '"$py" -c "import numpy as np,sys; a=np.load(\"$tmp/zoo/trained.output.npy\"); b=np.load(\"$tmp/zoo/trained-folded.output.npy\"); sys.exit(0 if np.abs(a-b).max() <= 1e-4*np.abs(a).max() else 1)"'
  fi
else
  echo "SKIP: trained-checkpoint export: Fashion-MNIST not installed at $fm"
  skipped=$((skipped + 1))
fi

# .onnx everywhere: summary, train (the checkpoint names the .onnx file and reads back), a class mismatch
out=$("$cn" summary "$tmp/zoo/lenet5.onnx" 2>&1); rc=$?
check "summary MODEL.onnx" '[ $rc -eq 0 ] && [[ "$out" == *"lenet5.onnx (onnx): input 1x28x28, 10 classes"* ]] && [[ "$out" == *"conv1    conv 20 k5 s1 p2"* ]]'
out=$("$cn" summary "$tmp/zoo/lenet5.onnx" --classes 7 2>&1); rc=$?
check "summary MODEL.onnx --classes 7: the model has 10" '[ $rc -eq 1 ] && one_line "$out" && [[ "$out" == *"output "?fc2?" has 10 classes, not the 7 asked for"* ]]'
if [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
  out=$("$cn" train "$tmp/zoo/lenet5.onnx" --data fashion-mnist --limit 256 --batch-size 64 --epochs 1 --threads 2 --out "$tmp/o" 2>"$tmp/o.err"); rc=$?
  check "train MODEL.onnx" '[ $rc -eq 0 ] && [[ "$out" == *"test accuracy "* ]] && grep -q "training $tmp/zoo/lenet5.onnx" "$tmp/o.err"'
  out=$("$cn" summary "$tmp/o/model.safetensors" 2>&1); rc=$?
  check "its checkpoint rebuilds from the .onnx path" '[ $rc -eq 0 ] && [[ "$out" == "$tmp/zoo/lenet5.onnx (checkpoint): input 1x28x28, 10 classes"* ]]'
  "$cn" export "$tmp/o/model.safetensors" "$tmp/retrained.onnx" >/dev/null 2>&1
  check "fine-tuned weights differ from the imported ones" '! cmp -s "$tmp/retrained.onnx" "$tmp/zoo/lenet5.onnx"'
  "$cn" export lenet5 "$tmp/five.onnx" --classes 5 >/dev/null 2>&1
  out=$("$cn" train "$tmp/five.onnx" --data fashion-mnist --limit 128 --epochs 1 --out "$tmp/five" 2>&1); rc=$?
  check "train: 5 ONNX classes for 10 in the data is a clear error" '[ $rc -ne 0 ] && [[ "$out" == *"has 5 classes, not the 10 asked for"* ]]'
else
  echo "SKIP: train MODEL.onnx: Fashion-MNIST not installed at $fm"
  skipped=$((skipped + 1))
fi

# errors
out=$("$cn" export lenet5 "$tmp/x.onnyx" 2>&1); rc=$?
check "a wrong extension is refused" '[ $rc -eq 2 ] && [[ "$out" == *".safetensors checkpoint or an .onnx model"* ]]'
out=$("$cn" export lenet5 "$tmp/no/such/dir/x.onnx" 2>&1); rc=$?
check "an unwritable path: one clear line" '[ $rc -eq 1 ] && one_line "$out" && [[ "$out" == *"cannot create a file next to"* ]]'

# the unit test's models: every exportable op
unit="$(dirname "$cn")/tests/test_onnx_export"
if [ -x "$unit" ]; then
  mkdir -p "$tmp/ops"
  CN_ONNX_EXPORT_KEEP="$tmp/ops" "$unit" >/dev/null 2>&1; rc=$?
  check "test_onnx_export keeps its models (every op in 1D, 2D and 3D among them)" \
    '[ $rc -eq 0 ] && [ $(ls "$tmp/ops"/*.onnx | wc -l) -ge 9 ] && [ -f "$tmp/ops/every_op_1D.onnx" ] && [ -f "$tmp/ops/every_op_3D.onnx" ]'
else
  echo "SKIP: $unit not built"
  skipped=$((skipped + 1))
fi

for d in "$tmp/zoo" "$tmp/ops"; do
  [ -d "$d" ] || continue
  res=$("$py" "$helper" checker "$d" 2>&1); rc=$?
  if [ $rc -eq 3 ]; then echo "SKIP: onnx.checker on $(basename "$d"): python module $res"; skipped=$((skipped + 1));
  else check "onnx.checker accepts the $(basename "$d") models" '[ $rc -eq 0 ]' || echo "$res"; fi
  if [ $have_numpy -eq 1 ]; then
    res=$("$py" "$helper" ort "$d" 2>&1); rc=$?
    if [ $rc -eq 3 ]; then echo "SKIP: ONNX Runtime on $(basename "$d"): python module $res (pip install onnxruntime)"; skipped=$((skipped + 1));
    else
      check "ONNX Runtime matches convnet on the $(basename "$d") models (1e-4)" '[ $rc -eq 0 ]'
      echo "$res" | sed 's/^/  /'
    fi
  fi
done
# PyTorch's side: the zoo exports loaded into torch (onnx2torch) compute convnet's outputs
if [ $have_numpy -eq 1 ]; then
  res=$("$py" "$helper" torch "$tmp/zoo" 2>&1); rc=$?
  if [ $rc -eq 3 ]; then echo "SKIP: PyTorch (onnx2torch) on the zoo models: python module $res (scripts/install-deps.sh --dev)"; skipped=$((skipped + 1));
  else
    check "PyTorch (onnx2torch) loads the zoo exports and matches convnet (1e-4)" '[ $rc -eq 0 ]'
    echo "$res" | sed 's/^/  /'
  fi
fi
[ $have_numpy -eq 1 ] || { echo "SKIP: ONNX Runtime comparisons: python3 has no numpy"; skipped=$((skipped + 1)); }
echo "($skipped skipped)"
finish
