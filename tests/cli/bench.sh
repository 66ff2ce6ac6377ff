#!/usr/bin/env bash
# convnet bench: JSON fields, the algorithm and its log, errors as one line with exit 2. Tiny shapes, a few
# runs: this checks the command, it does not time anything. $1: the convnet binary.
set -u
cn="$1"
. "$(dirname "$0")/lib/check.sh"
fast="--iters 2 --warmup 1 --min-time 0"

out=$("$cn" bench conv --batch 2 --in 8 --size 9x7 --out 4 --kernel 3 --threads 1 --json $fast 2>&1); rc=$?
check "conv exits 0" '[ $rc -eq 0 ]'
check "conv JSON has median_ms, gflops, algorithm" '[[ "$out" == *"\"median_ms\": "* && "$out" == *"\"gflops\": "* && ( "$out" == *"\"algorithm\": \"direct\""* || "$out" == *"\"algorithm\": \"im2col-gemm\""* ) ]]'
out=$(CN_ISA=avx2 "$cn" bench conv --batch 2 --in 8 --size 9x7 --out 4 --kernel 3 --threads 1 --json $fast 2>&1)
check "im2col + GEMM without AVX-512" '[[ "$out" == *"\"algorithm\": \"im2col-gemm\""* ]]'
# the lecture's layer: 3x32x32, 10 filters 5x5, pad 2: 768,000 multiply-adds = 0.001536 GFLOP per image
out=$("$cn" bench conv --batch 1 --in 3 --size 32 --out 10 --kernel 5 --pad 2 --json $fast 2>&1)
check "gflops x median_ms is the layer's work (1.536 MFLOP)" \
  'python3 -c "import json,sys; d=json.loads(sys.argv[1]); w=d[\"gflops\"]*d[\"median_ms\"]*1e-3; assert abs(w-0.001536) < 0.001536*0.02 + 1e-5, w" "$out"'
out=$("$cn" bench conv --batch 1 --in 6 --size 5 --out 6 --kernel 3 --groups 6 --backward --json $fast 2>&1)
check "depthwise fwd+bwd" '[[ "$out" == *"\"algorithm\": \"depthwise-direct\""* && "$out" == *"fwd+bwd"* ]]'
out=$("$cn" bench conv --batch 4 --in 32 --size 16 --out 32 --kernel 3 --json $fast 2>&1)
check "winograd for a 3x3 stride-1 layer" '[[ "$out" == *"\"algorithm\": \"winograd-f4x3\""* ]]'
out=$(CN_LOG_ALGO=1 "$cn" bench conv --batch 2 --in 4 --size 6 --out 4 --kernel 1 $fast 2>&1 >/dev/null)
check "CN_LOG_ALGO logs once per node" '[ $(echo "$out" | grep -c "conv: gemm-1x1 (1x1 kernel") -eq 1 ]'
out=$(CN_ISA=portable "$cn" bench gemm --m 17 --n 33 --k 9 --json $fast 2>&1)
check "gemm JSON with the selected kernels" '[[ "$out" == *"\"isa\": \"portable\""* && "$out" == *"\"gflops\": "* ]]'
out=$("$cn" bench model lenet5 --batch 2 --train --json $fast 2>&1); rc=$?
check "model train step" '[ $rc -eq 0 ] && [[ "$out" == *"\"images_per_s\": "* ]]'
out=$("$cn" bench model lenet5 --batch 2 --train --profile --json $fast 2>&1); rc=$?
check "model --profile JSON: every node's forward and backward time" \
  'python3 -c "import json,sys; d=json.loads(sys.argv[1]); p={e[\"node\"]: e for e in d[\"profile\"]}; assert d[\"profile_runs\"] >= 2; assert p[\"conv1\"][\"op\"] == \"Conv\" and p[\"conv1\"][\"forward_ms\"] > 0 and p[\"conv1\"][\"backward_ms\"] > 0; assert p[\"conv1\"][\"algorithm\"] != \"none\" and p[\"fc1\"][\"algorithm\"] == \"none\"" "$out"'
out=$("$cn" bench model lenet5 --batch 2 --profile $fast 2>&1); rc=$?
check "model --profile table" '[ $rc -eq 0 ] && [[ "$out" == *"profile, ms per run"* && "$out" == *"conv2 "*"Conv"* && "$out" == *"(all nodes)"* ]]'
out=$("$cn" bench model nosuchmodel $fast 2>&1); rc=$?
check "unknown model exits 1 with one line" '[ $rc -eq 1 ] && [ $(echo "$out" | wc -l) -eq 1 ] && [[ "$out" == *"nosuchmodel"* ]]'
out=$("$cn" bench conv --kernel zero 2>&1); rc=$?
check "bad number exits 2" '[ $rc -eq 2 ] && [[ "$out" == *"--kernel"* ]]'
out=$("$cn" bench conv --batch 1 --in 3 --size 4 --out 2 --kernel 7 --pad 0 $fast 2>&1); rc=$?
check "impossible shape exits 1" '[ $rc -eq 1 ] && [[ "$out" == *"too small"* ]]'
out=$("$cn" bench frobnicate 2>&1); rc=$?
check "unknown benchmark exits 2" '[ $rc -eq 2 ] && [[ "$out" == *"unknown benchmark"* ]]'
finish
