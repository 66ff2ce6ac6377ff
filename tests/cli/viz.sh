#!/usr/bin/env bash
# convnet viz filters / activations on a seeded LeNet-5 checkpoint (written by the test_viz executable next
# to the binary): PNG sizes and colour types, the predicted class, and the errors. $1: the convnet binary.
set -u
cn="$1"
. "$(dirname "$0")/lib/check.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

png_info() {
    local b
    b=($(od -An -tu1 -N26 "$1" 2>/dev/null))
    [ "${#b[@]}" -eq 26 ] && [ "${b[1]}" -eq 80 ] && [ "${b[2]}" -eq 78 ] && [ "${b[3]}" -eq 71 ] || return 0
    echo "$(( (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19] )) $(( (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23] )) ${b[25]}"
}

writer="$(dirname "$cn")/tests/test_viz"
"$writer" --write-checkpoint "$tmp/lenet.safetensors"; rc=$?
check "checkpoint written by $writer" '[ $rc -eq 0 ] && [ -s "$tmp/lenet.safetensors" ]'
ck="$tmp/lenet.safetensors"

out=$("$cn" viz filters "$ck" "$tmp/f.png" 2>&1); rc=$?
# 20 grey 5x5 filters: 5 columns x 4 rows of 50-pixel tiles (10x), 1-pixel borders
check "filters: 256x205 grey" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/f.png")" = "256 205 0" ]'
check "filters: names conv1" '[[ "$out" == *"filters of conv1"* ]]'
"$cn" viz filters "$ck" "$tmp/f2.png" --layer conv2 --scale 2 >/dev/null 2>&1; rc=$?
# conv2: 50 filters of 20 channels, a row of 20 tiles of 10 pixels each
check "filters of conv2: 50 rows of 20 tiles" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/f2.png")" = "221 551 0" ]'

# a 28x28 grey picture (PGM) and a 40x30 colour one (resized and converted to the model's 1x28x28)
{ printf 'P5 28 28 255\n'; for ((i = 0; i < 784; i++)); do printf "\\x$(printf %02x $(( (i % 28) * 9 )))"; done; } > "$tmp/x.pgm"
{ printf 'P6 40 30 255\n'; for ((i = 0; i < 1200; i++)); do printf '\x10\x80\xf0'; done; } > "$tmp/c.ppm"
out=$("$cn" viz activations "$ck" "$tmp/x.pgm" "$tmp/a.png" --layer relu1 2>&1); rc=$?
# 20 channels of 28x28 at 2x: 5 x 4 tiles of 56 pixels
check "activations of relu1: 286x229" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/a.png")" = "286 229 0" ]'
check "prints the predicted class" '[[ "$out" == *"predicted: class"*"(probability 0."* ]]'
"$cn" viz activations "$ck" "$tmp/c.ppm" "$tmp/a2.png" --layer pool2 --scale 1 >/dev/null 2>&1; rc=$?
# 50 channels of 7x7: 8 columns x 7 rows of 7-pixel tiles
check "colour image, resized; pool2 tiles" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/a2.png")" = "65 57 0" ]'
"$cn" viz activations "$ck" "$tmp/x.pgm" "$tmp/a3.png" --layer fc1 --scale 1 >/dev/null 2>&1; rc=$?
check "fc1: one 1x500 strip" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/a3.png")" = "502 3 0" ]'
"$cn" viz activations "$ck" "$tmp/x.pgm" "$tmp/a4.png" >/dev/null 2>&1; rc=$?
check "default layer: the first convolution" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/a4.png")" = "286 229 0" ]'

err() {  # name expected-text command...
    local name="$1" want="$2"
    shift 2
    rm -f "$tmp/bad.png"
    out=$("$@" 2>&1); rc=$?
    check "$name" '[ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && [[ "$out" == *"$want"* ]] && [ ! -e "$tmp/bad.png" ]'
}
err "missing checkpoint" "nope.safetensors" "$cn" viz filters "$tmp/nope.safetensors" "$tmp/bad.png"
printf 'not a checkpoint' > "$tmp/junk.safetensors"
err "not a checkpoint" "junk.safetensors" "$cn" viz filters "$tmp/junk.safetensors" "$tmp/bad.png"
err "unknown layer lists the layers" "no layer 'conv9' in the model (layers: conv1, relu1" "$cn" viz activations "$ck" "$tmp/x.pgm" "$tmp/bad.png" --layer conv9
err "filters of a non-conv layer" "fc1 is a Gemm layer, not a convolution" "$cn" viz filters "$ck" "$tmp/bad.png" --layer fc1
printf 'text' > "$tmp/t.png"
err "image that is not one" "not a readable image" "$cn" viz activations "$ck" "$tmp/t.png" "$tmp/bad.png"
err "unknown picture" "unknown picture 'weights'" "$cn" viz weights "$ck" "$tmp/bad.png"
err "unknown option" "unknown option '--colour'" "$cn" viz filters "$ck" "$tmp/bad.png" --colour
err "bad scale" "--scale '0'" "$cn" viz filters "$ck" "$tmp/bad.png" --scale 0
err "missing arguments" "need CKPT IMAGE OUT.png" "$cn" viz activations "$ck" "$tmp/bad.png"
finish
