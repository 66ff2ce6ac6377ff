#!/usr/bin/env bash
# Build convnet and run the whole test suite (warnings are errors). Usage: scripts/test.sh [build-dir] [cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
scripts/install-deps.sh
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCN_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
cd "$dir" && ctest --output-on-failure -j "$(nproc)"
