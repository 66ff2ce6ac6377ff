#!/usr/bin/env bash
# convnet train / eval / predict on a small part of Fashion-MNIST: outputs, determinism, bit-exact resume,
# NaN handling and bad input. $1: the convnet binary. Needs Debian's dataset-fashion-mnist (else SKIP).
set -u
cn="$1"
export OMP_WAIT_POLICY=passive
fm="${CN_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
if [ ! -f "$fm/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: Fashion-MNIST not installed at $fm (scripts/install-deps.sh installs it)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib/check.sh"
small="--data fashion-mnist --limit 512 --batch-size 64 --schedule step:5 --threads 2"

# a run writes checkpoints and metrics, and prints the test accuracy
out=$("$cn" train lenet5 $small --epochs 2 --out "$tmp/a" 2>"$tmp/a.err"); rc=$?
check "train exits 0" '[ $rc -eq 0 ]'
check "train prints the test accuracy" '[[ "$out" == *"test accuracy "*"% (loss "*") on 512 images"* ]]'
check "model and best checkpoints" '[ -s "$tmp/a/model.safetensors" ] && [ -s "$tmp/a/best.safetensors" ]'
check "metrics.csv: header and 2 epochs of 8 fields" \
  '[ "$(head -1 "$tmp/a/metrics.csv")" = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second" ] && [ $(wc -l < "$tmp/a/metrics.csv") -eq 3 ] && [ $(tail -1 "$tmp/a/metrics.csv" | tr "," "\n" | wc -l) -eq 8 ]'
check "one progress line per epoch when stderr is not a terminal" '[ $(grep -c "^epoch [12]/2: train loss" "$tmp/a.err") -eq 2 ]'

# the same seed and thread count give the same weights; resuming gives what never stopping gives
"$cn" train lenet5 $small --epochs 2 --out "$tmp/b" >/dev/null 2>&1
check "same seed, same checkpoint, bit for bit" 'cmp -s "$tmp/a/model.safetensors" "$tmp/b/model.safetensors"'
"$cn" train lenet5 $small --epochs 1 --out "$tmp/c" >/dev/null 2>&1
"$cn" train lenet5 $small --epochs 2 --out "$tmp/c" --resume "$tmp/c/model.safetensors" >/dev/null 2>&1; rc=$?
check "resume exits 0" '[ $rc -eq 0 ]'
check "1 epoch + resume 1 equals 2 epochs, bit for bit" 'cmp -s "$tmp/a/model.safetensors" "$tmp/c/model.safetensors"'
check "resume appends to metrics.csv" '[ $(wc -l < "$tmp/c/metrics.csv") -eq 3 ]'

# with a validation split the metrics have validation columns
"$cn" train lenet5 $small --epochs 1 --val-split 0.25 --out "$tmp/v" >/dev/null 2>&1
check "validation columns filled" '[ -n "$(tail -1 "$tmp/v/metrics.csv" | cut -d, -f5)" ]'

# initialisation schemes: seeded, and different from the default
"$cn" train lenet5 $small --epochs 1 --init kaiming --out "$tmp/k1" >/dev/null 2>&1
"$cn" train lenet5 $small --epochs 1 --init kaiming --out "$tmp/k2" >/dev/null 2>&1
check "--init kaiming: same seed, same weights" 'cmp -s "$tmp/k1/model.safetensors" "$tmp/k2/model.safetensors"'
"$cn" train lenet5 $small --epochs 1 --init xavier --out "$tmp/x1" >/dev/null 2>&1
check "--init xavier differs from kaiming" '! cmp -s "$tmp/k1/model.safetensors" "$tmp/x1/model.safetensors"'

# eval: text and JSON
out=$("$cn" eval "$tmp/a/model.safetensors" --data fashion-mnist); rc=$?
check "eval exits 0 and reports 10000 images" '[ $rc -eq 0 ] && [[ "$out" == *"on 10000 images"* ]] && [[ "$out" == *"Ankle boot"* ]]'
json=$("$cn" eval "$tmp/a/model.safetensors" --data fashion-mnist --json)
check "eval --json is one object with accuracy in [0,1], per_class and a 10x10 confusion matrix" \
  'python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert 0 <= d[\"accuracy\"] <= 1 and 0 <= d[\"loss\"]; assert len(d[\"per_class\"]) == 10 and all(0 <= a <= 1 for a in d[\"per_class\"]); assert len(d[\"confusion\"]) == 10 and sum(map(sum, d[\"confusion\"])) == 10000" "$json"'

# predict: an image by class name
python3 - "$tmp/shoe.png" <<'PY'
import struct, sys, zlib
w = h = 28
rows = b"".join(b"\x00" + bytes(255 if 10 < y < 20 and 3 < x < 25 else 0 for x in range(w)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
out=$("$cn" predict "$tmp/a/model.safetensors" "$tmp/shoe.png" --top 2); rc=$?
check "predict prints the top 2 classes by name" '[ $rc -eq 0 ] && [ $(printf "%s\n" "$out" | grep -cE "^ +[0-9.]+%  (T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)$") -eq 2 ]'

# a loss that becomes NaN stops the run, names the step, keeps the last good checkpoint
cp "$tmp/a/model.safetensors" "$tmp/good.safetensors"
err=$("$cn" train lenet5 $small --epochs 4 --lr 1e9 --out "$tmp/a" --resume "$tmp/good.safetensors" 2>&1 >/dev/null); rc=$?
check "NaN loss: exit 1 with the step named" '[ $rc -eq 1 ] && [[ "$err" == *"loss became "*" at epoch "*", step "*"the last good checkpoint is kept"* ]]'
check "the kept checkpoint still loads" '"$cn" eval "$tmp/a/model.safetensors" --data fashion-mnist >/dev/null'

# bad input: one line, non-zero exit, nothing written
err=$("$cn" train lenet5 --data mnist:"$tmp/nope" --out "$tmp/bad1" 2>&1); rc=$?
check "missing dataset path" '[ $rc -eq 1 ] && one_line "$err" && [[ "$err" == *"$tmp/nope"* ]] && [ ! -e "$tmp/bad1" ]'
mkdir -p "$tmp/badidx" && printf 'not an idx file at all' > "$tmp/badidx/train-images-idx3-ubyte" && cp "$fm/train-labels-idx1-ubyte.gz" "$tmp/badidx/"
err=$("$cn" train lenet5 --data mnist:"$tmp/badidx" --out "$tmp/bad2" 2>&1); rc=$?
check "wrong IDX magic" '[ $rc -eq 1 ] && one_line "$err" && [[ "$err" == *"magic"* ]]'
head -c 5000 "$tmp/a/model.safetensors" > "$tmp/trunc.safetensors"
err=$("$cn" eval "$tmp/trunc.safetensors" --data fashion-mnist 2>&1); rc=$?
check "truncated checkpoint" '[ $rc -eq 1 ] && one_line "$err" && [[ "$err" == *"trunc"* ]]'
err=$("$cn" train resnet20 --data fashion-mnist --limit 64 --resume "$tmp/good.safetensors" --out "$tmp/bad5" 2>&1); rc=$?
check "a checkpoint of another model" '[ $rc -eq 1 ] && one_line "$err" && [[ "$err" == *"another model"* ]] && [ ! -e "$tmp/bad5" ]'
err=$("$cn" eval "$tmp/shoe.png" --data fashion-mnist 2>&1); rc=$?
check "not a checkpoint" '[ $rc -eq 1 ] && one_line "$err"'
err=$("$cn" train lenet5 --data fashion-mnist --epohcs 3 2>&1); rc=$?
check "unknown option" '[ $rc -eq 2 ] && one_line "$err" && [[ "$err" == *"unknown option '"'"'--epohcs'"'"'"* ]]'
err=$("$cn" train lenet6 --data fashion-mnist --limit 64 --out "$tmp/bad3" 2>&1); rc=$?
check "unknown model" '[ $rc -eq 1 ] && one_line "$err" && [[ "$err" == *"unknown model '"'"'lenet6'"'"'"* ]]'
err=$("$cn" train lenet5 --data fashion-mnist --lr -1 2>&1); rc=$?
check "bad value" '[ $rc -eq 2 ] && one_line "$err" && [[ "$err" == *"--lr"* ]]'
mkdir -p "$tmp/folder/cat" && cp "$tmp/shoe.png" "$tmp/folder/cat/a.png" && echo "hello" > "$tmp/folder/cat/b.png"
err=$("$cn" train lenet5 --data "$tmp/folder" --out "$tmp/bad4" 2>&1); rc=$?
check "non-image file in a folder is named" '[ $rc -eq 1 ] && one_line "$err" && [[ "$err" == *"b.png"* ]]'

finish
