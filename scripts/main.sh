#!/usr/bin/env bash
# The main job: install what is missing, build, run. Usage: scripts/main.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
scripts/install-deps.sh
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j "$(nproc)" --target convnet
"$dir/convnet" smoke
