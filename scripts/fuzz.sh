#!/usr/bin/env bash
# Fuzz the ONNX model loader with libFuzzer under ASan and UBSan.
#   scripts/fuzz.sh [SECONDS] [SEED] [CORPUS_DIR]
# SECONDS defaults to 60 and SEED to 1 (what CI runs: the same commit explores the same inputs, so a clean
# local run predicts CI). Use other seeds and a kept CORPUS_DIR for longer campaigns; a crash leaves its
# input in build-fuzz/crash-* — turn each into a fix and a test. Exits 0 when clang/libFuzzer is missing
# (printing SKIP), non-zero on any crash, leak or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
seed=${2:-1}
corpus=${3:-}
if ! command -v clang >/dev/null || ! CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCN_SANITIZE=ON \
     -DCN_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null 2>&1; then
  echo "SKIP: fuzzing (needs clang with libFuzzer and libomp-dev)"
  exit 0
fi
cmake --build build-fuzz -j2 --target fuzz_onnx
if [ -z "$corpus" ]; then
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
fi
mkdir -p "$corpus"
cp tests/onnx/models/*.onnx tests/onnx/errors/*.onnx "$corpus"/
# One OpenMP thread: coverage, and so the explored inputs, do not depend on thread timing.
OMP_NUM_THREADS=1 ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-fuzz/fuzz_onnx -seed="$seed" -max_total_time="$seconds" -rss_limit_mb=4096 -artifact_prefix=build-fuzz/ \
  "$corpus"
