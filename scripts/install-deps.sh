#!/usr/bin/env bash
# Installs collab's build and test dependencies from Debian 12's packages (run as root, or it
# uses sudo). Nothing is downloaded from anywhere else.
#   --no-torch      leave out Debian's CPU LibTorch (building against an official LibTorch,
#                   as docker/Dockerfile.cuda does)
#   --browser-tests Debian's chromium (and npm where Node.js has none) for the browser test of
#                   `collab serve`'s page (tests/browser; scripts/test.sh installs its npm package)
#   --with PKG...   install these packages too
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libgloo-dev             # Gloo headers for c10d (collab launch, distributed training)
  nlohmann-json3-dev libcxxopts-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev   # collab data fetch
  libcpp-httplib-dev      # collab serve's HTTP server
  libopenblas0-openmp     # LibTorch's libblas.so.3 becomes OpenBLAS (OpenMP, as LibTorch)
  libgtest-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev libomp-14-dev   # sanitizer preset and libFuzzer targets
)
with_torch=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-torch) with_torch=0 ;;
    --browser-tests)
      packages+=(chromium)
      command -v npm >/dev/null 2>&1 || packages+=(npm) ;;
    --with) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do packages+=("$1"); shift; done; continue ;;
    *) echo "install-deps.sh: unknown option $1 (--no-torch, --with PKG...)" >&2; exit 2 ;;
  esac
  shift
done
[ "$with_torch" -eq 0 ] || packages+=(libtorch-dev)   # LibTorch 1.13, CPU
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
