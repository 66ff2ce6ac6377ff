#!/usr/bin/env bash
# Install the Debian packages convnet needs that are missing; does nothing when all are present.
# Usage: scripts/install-deps.sh [--dev]
#   --dev adds PyTorch, torchvision and onnx (regenerating the golden files and ONNX test models), oneDNN
#   (bench/run.py compares against it), OpenBLAS (without it Debian's PyTorch runs its matrix products on the
#   reference BLAS, 50x slower: an unfair reference) and ONNX Runtime from PyPI (the export round-trip tests;
#   they print SKIP without it).
set -euo pipefail

packages=(gcc make cmake pkg-config python3 zlib1g-dev libstb-dev dataset-fashion-mnist
          libprotobuf-c-dev protobuf-c-compiler libonnx-dev
          clang libclang-rt-14-dev libomp-dev)   # clang + libFuzzer: CI fuzzes the ONNX loader
if [ "${1:-}" = "--dev" ]; then
  packages+=(python3-torch python3-numpy python3-onnx python3-torchvision libdnnl-dev libopenblas0-pthread)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
dev_python() {
  if [ "${1:-}" = "--dev" ] && ! /usr/bin/python3 -c "import onnxruntime" 2>/dev/null; then
    echo "installing: onnxruntime (PyPI)" >&2
    /usr/bin/python3 -m pip install -q --break-system-packages --no-deps onnxruntime >&2
  fi
  if [ "${1:-}" = "--dev" ] && ! /usr/bin/python3 -c "import onnx2torch" 2>/dev/null; then
    echo "installing: onnx2torch (PyPI; loads ONNX models into PyTorch for the export tests)" >&2
    /usr/bin/python3 -m pip install -q --break-system-packages --no-deps onnx2torch >&2
  fi
}
if [ ${#missing[@]} -eq 0 ]; then
  dev_python "${1:-}"
  exit 0
fi

echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
dev_python "${1:-}"
