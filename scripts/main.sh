#!/usr/bin/env bash
# The main job: install what is missing, build, train LeNet-5 on Fashion-MNIST and print the test accuracy.
# Usage: scripts/main.sh [extra convnet train options, e.g. --epochs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target convnet
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
build/convnet train lenet5 --data fashion-mnist --epochs 15 --lr 0.02 --out runs/lenet5 "$@"
