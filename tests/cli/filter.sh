#!/usr/bin/env bash
# convnet filter: PNGs of the right size and colour type that stb reads back, every built-in kernel, options,
# matrix files; bad inputs give one line and a non-zero exit. $1: the convnet binary.
set -u
cn="$1"
. "$(dirname "$0")/lib/check.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "WIDTH HEIGHT COLOURTYPE" from a PNG's IHDR (colour type 0 grey, 2 RGB), or nothing when not a PNG
png_info() {
    local b
    b=($(od -An -tu1 -N26 "$1" 2>/dev/null))
    [ "${#b[@]}" -eq 26 ] && [ "${b[1]}" -eq 80 ] && [ "${b[2]}" -eq 78 ] && [ "${b[3]}" -eq 71 ] || return 0
    echo "$(( (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19] )) $(( (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23] )) ${b[25]}"
}

# a 17x11 RGB test picture as binary PPM (stb_image reads PNM too): a bright square on a ramp
{
    printf 'P6 17 11 255\n'
    for ((y = 0; y < 11; y++)); do
        for ((x = 0; x < 17; x++)); do
            if ((x >= 5 && x < 12 && y >= 3 && y < 8)); then printf '\xf0\x40\x20'
            else printf "\\x$(printf %02x $((x * 15)))\\x$(printf %02x $((y * 20)))\\x80"; fi
        done
    done
} > "$tmp/in.ppm"

out=$("$cn" filter identity "$tmp/in.ppm" "$tmp/id.png" 2>&1); rc=$?
check "identity exits 0" '[ $rc -eq 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ]'
check "identity: a 17x11 RGB PNG" '[ "$(png_info "$tmp/id.png")" = "17 11 2" ]'
"$cn" filter identity "$tmp/id.png" "$tmp/id2.png" >/dev/null 2>&1; rc=$?
check "stb reads the PNG back; identity again gives the same file" '[ $rc -eq 0 ] && cmp -s "$tmp/id.png" "$tmp/id2.png"'
"$cn" filter box:3 "$tmp/id.png" "$tmp/grey.png" --grey >/dev/null 2>&1; rc=$?
check "--grey writes a grey PNG" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/grey.png")" = "17 11 0" ]'

for k in box:1 box:4 gaussian:0.8 gaussian:3 sharpen sobel-x sobel-y laplacian shift-left shift-right shift-up shift-down; do
    for opts in "" "--mode convolve --pad reflect" "--pad replicate --negative offset" "--pad circular --normalize"; do
        rm -f "$tmp/k.png"
        "$cn" filter "$k" "$tmp/in.ppm" "$tmp/k.png" $opts >/dev/null 2>&1; rc=$?
        check "$k $opts" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/k.png")" = "17 11 2" ]'
    done
done
out=$("$cn" filter sobel-x "$tmp/in.ppm" "$tmp/s.png" 2>&1)
check "sobel shows magnitudes by default" '[[ "$out" == *"negatives: abs"* ]]'
out=$("$cn" filter sharpen "$tmp/in.ppm" "$tmp/s.png" 2>&1)
check "sharpen clamps by default" '[[ "$out" == *"negatives: clamp"* ]]'
out=$("$cn" filter box:3 "$tmp/in.ppm" "$tmp/c.png" --then sobel-x --combine --print-kernel 2>&1); rc=$?
check "--combine prints the 5x5 combined kernel" '[ $rc -eq 0 ] && [[ "$out" == *"combined kernel (5x5"* ]] && [ "$(png_info "$tmp/c.png")" = "17 11 2" ]'
"$cn" filter box:3 "$tmp/in.ppm" "$tmp/t.png" --then sobel-x >/dev/null 2>&1; rc=$?
check "--then filters twice" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/t.png")" = "17 11 2" ]'

printf '# emboss\n-2 -1 0\n-1 1 1\n0 1 2\n' > "$tmp/emboss.txt"
"$cn" filter "$tmp/emboss.txt" "$tmp/in.ppm" "$tmp/e.png" >/dev/null 2>&1; rc=$?
check "matrix file kernel" '[ $rc -eq 0 ] && [ "$(png_info "$tmp/e.png")" = "17 11 2" ]'

# errors: one line, non-zero exit, no output file
err() {  # name expected-text command...
    local name="$1" want="$2"
    shift 2
    rm -f "$tmp/bad.png"
    out=$("$@" 2>&1); rc=$?
    check "$name" '[ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && [[ "$out" == *"$want"* ]] && [ ! -e "$tmp/bad.png" ]'
}
err "missing input" "nope.png: No such file" "$cn" filter box:3 "$tmp/nope.png" "$tmp/bad.png"
printf 'hello\n' > "$tmp/text.png"
err "not an image" "not a readable image" "$cn" filter box:3 "$tmp/text.png" "$tmp/bad.png"
err "unknown kernel" "unknown kernel 'blurry'" "$cn" filter blurry "$tmp/in.ppm" "$tmp/bad.png"
err "bad box size" "box size" "$cn" filter box:0 "$tmp/in.ppm" "$tmp/bad.png"
err "bad sigma" "sigma" "$cn" filter gaussian:-2 "$tmp/in.ppm" "$tmp/bad.png"
printf '1 2 3\n4 5\n' > "$tmp/ragged.txt"
err "ragged matrix file" "ragged.txt:2: this row has 2 numbers" "$cn" filter "$tmp/ragged.txt" "$tmp/in.ppm" "$tmp/bad.png"
printf '1 2\n3 four\n' > "$tmp/word.txt"
err "matrix file with a word" "word.txt:2: 'four' is not a number" "$cn" filter "$tmp/word.txt" "$tmp/in.ppm" "$tmp/bad.png"
err "unknown option" "unknown option '--blur'" "$cn" filter box:3 "$tmp/in.ppm" "$tmp/bad.png" --blur
err "bad --pad" "--pad 'mirror'" "$cn" filter box:3 "$tmp/in.ppm" "$tmp/bad.png" --pad mirror
err "bad --mode" "--mode 'flip'" "$cn" filter box:3 "$tmp/in.ppm" "$tmp/bad.png" --mode flip
err "missing arguments" "need KERNEL IN OUT.png" "$cn" filter box:3 "$tmp/in.ppm"
err "unwritable output" "cannot write" "$cn" filter box:3 "$tmp/in.ppm" "$tmp/no/such/dir.png"
out=$("$cn" filter --help); rc=$?
check "--help" '[ $rc -eq 0 ] && [[ "$out" == *"gaussian:SIGMA"* ]]'
finish
