#!/usr/bin/env bash
# convnet summary (table and --json) and convnet export [--fold-bn]: the lecture's LeNet-5 numbers, JSON that
# parses with every key, batch scaling, checkpoints as models, folded checkpoints without batch norm.
# $1: the convnet binary.
set -u
cn="$1"
. "$(dirname "$0")/lib/check.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
row() { echo "$table" | awk -v n="$1" '$1 == n'; }

table=$("$cn" summary lenet5 2>&1); rc=$?
check "summary lenet5 exits 0" '[ $rc -eq 0 ]'
check "conv1: 20x28x28, weights 20x1x5x5, 520 params" '[[ "$(row conv1)" == *" 20x28x28 "*" 20x1x5x5 "*" 520 "* ]]'
check "conv1 described lecture-style" '[[ "$(row conv1)" == *"conv 20 k5 s1 p2"* ]]'
check "pool2: 50x7x7" '[[ "$(row pool2)" == *"maxpool k2 s2"*" 50x7x7 "* ]]'
check "flatten: 2450" '[[ "$(row flatten)" == *" 2450 "* ]]'
check "total 1,256,080 parameters" '[[ "$(row total)" == *" 1,256,080 "* ]]'
check "header names the model and input" '[[ "$table" == "lenet5 (zoo): input 1x28x28, 10 classes, batch 1"* ]]'

json=$("$cn" summary lenet5 --json); rc=$?
check "--json exits 0" '[ $rc -eq 0 ]'
check "--json parses" 'echo "$json" | python3 -c "import json,sys; json.load(sys.stdin)"'
keys_ok=$(echo "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
keys = {"name", "op", "output_shape", "weight_shape", "params", "macs", "activation_bytes", "receptive_field", "jump"}
ok = all(k in d for k in ("layers", "total_params", "total_macs", "activation_bytes"))
ok = ok and all(keys <= set(l) for l in d["layers"])
ok = ok and d["total_params"] == 1256080 == sum(l["params"] for l in d["layers"])
ok = ok and d["total_macs"] == sum(l["macs"] for l in d["layers"])
conv1 = [l for l in d["layers"] if l["name"] == "conv1"][0]
ok = ok and conv1["output_shape"] == [20, 28, 28] and conv1["weight_shape"] == [20, 1, 5, 5] and conv1["op"] == "Conv"
ok = ok and conv1["attributes"]["kernel_shape"] == [5, 5] and conv1["receptive_field"] == 5
print("yes" if ok else "no")')
check "--json has every key and consistent totals" '[ "$keys_ok" = yes ]'
json4=$("$cn" summary lenet5 --json --batch 4)
scaled=$(python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("yes" if b["total_macs"] == 4 * a["total_macs"] and b["activation_bytes"] == 4 * a["activation_bytes"]
      and b["total_params"] == a["total_params"] and b["batch"] == 4 else "no")' "$json" "$json4")
check "--batch 4 scales MACs and activations, not parameters" '[ "$scaled" = yes ]'
table=$("$cn" summary lenet5 --input 3x32x32 --classes 7)
check "--input 3x32x32: conv1 weights 20x3x5x5" '[[ "$(row conv1)" == *" 20x32x32 "*" 20x3x5x5 "* ]] && [[ "$(row fc2)" == *" 7 "* ]]'

out=$("$cn" summary nope 2>&1); rc=$?
check "unknown model: exit 1, one line" '[ $rc -eq 1 ] && [[ "$out" == *"unknown model '"'"'nope'"'"'"* ]] && [ $(echo "$out" | wc -l) -eq 1 ]'
out=$("$cn" summary lenet5 --input 3x32 2>&1); rc=$?
check "bad --input: exit 2" '[ $rc -eq 2 ] && [[ "$out" == *"--input"* ]]'
out=$("$cn" summary 2>&1); rc=$?
check "no model: exit 2" '[ $rc -eq 2 ]'
out=$("$cn" summary lenet5 --input 1x3x3 2>&1); rc=$?
check "input too small: exit 1 naming the layer" '[ $rc -eq 1 ] && [[ "$out" == *"conv"* ]]'

# checkpoints as models, and folding
out=$("$cn" export lenet5 "$tmp/l.safetensors" 2>&1); rc=$?
check "export a zoo model" '[ $rc -eq 0 ] && [ -s "$tmp/l.safetensors" ]'
table=$("$cn" summary "$tmp/l.safetensors" 2>&1)
check "summary of a checkpoint" '[[ "$(row total)" == *" 1,256,080 "* ]] && [[ "$table" == "lenet5 (checkpoint)"* ]]'
out=$("$cn" export "$tmp/l.safetensors" "$tmp/f.safetensors" --fold-bn 2>&1); rc=$?
check "export --fold-bn of a model without BN" '[ $rc -eq 0 ] && [[ "$out" == *"0 batch norm layers folded"* ]]'
check "the folded checkpoint reads back" '"$cn" summary "$tmp/f.safetensors" > /dev/null'
out=$("$cn" export lenet5 "$tmp/x.pt" 2>&1); rc=$?
check "export to an unknown format: exit 2" '[ $rc -eq 2 ] && [[ "$out" == *".safetensors"* ]]'
out=$("$cn" summary "$tmp/l.safetensors" --input 3x32x32 2>&1); rc=$?
check "a checkpoint fixes its input" '[ $rc -eq 1 ] && [[ "$out" == *"fixes its input"* ]]'

# zoo models with batch norm (when the zoo has them): the folded model has none left, same outputs shape
for model in resnet18-small resnet20 vgg11-bn; do
    bn=$("$cn" summary "$model" --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(l["op"] == "BatchNormalization" for l in d["layers"]))' 2>/dev/null)
    [ -n "$bn" ] && [ "$bn" -gt 0 ] || continue
    "$cn" export "$model" "$tmp/$model.safetensors" > /dev/null 2>&1
    out=$("$cn" export "$tmp/$model.safetensors" "$tmp/$model-folded.safetensors" --fold-bn 2>&1); rc=$?
    check "$model: export --fold-bn" '[ $rc -eq 0 ] && [[ "$out" == *"$bn batch norm layer"* ]]'
    left=$("$cn" summary "$tmp/$model-folded.safetensors" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(l["op"] == "BatchNormalization" for l in d["layers"]))')
    check "$model: no BatchNormalization after folding" '[ "$left" = 0 ]'
done

finish
