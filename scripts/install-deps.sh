#!/usr/bin/env bash
# Install the Debian packages convnet needs that are missing; does nothing when all are present.
# Usage: scripts/install-deps.sh [--dev]   (--dev adds PyTorch for regenerating the golden files)
set -euo pipefail

packages=(gcc make cmake pkg-config python3 zlib1g-dev libstb-dev dataset-fashion-mnist)
if [ "${1:-}" = "--dev" ]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
