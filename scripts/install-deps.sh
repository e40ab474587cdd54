#!/usr/bin/env bash
# Installs collab's build and test dependencies from Debian 12's packages (run as root, or it
# uses sudo). Nothing is downloaded from anywhere else.
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libtorch-dev            # LibTorch 1.13, CPU
  libgloo-dev             # Gloo headers for c10d (collab launch, distributed training)
  nlohmann-json3-dev libcxxopts-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev   # collab data fetch
  libgtest-dev libbenchmark-dev
)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
