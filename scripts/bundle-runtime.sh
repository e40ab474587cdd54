#!/usr/bin/env bash
# Copies the built `collab` binary and every shared library it loads (as ldd resolves them,
# except the C library and the dynamic loader, which every base image has, and the NVIDIA
# driver's libcuda, which the container runtime mounts from the host) into DEST/bin and
# DEST/lib. The Docker images' runtime stage is DEST on a slim base image: the same build as CI,
# without compilers or -dev packages.
#   bash scripts/bundle-runtime.sh build/collab /opt/collab
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: bundle-runtime.sh BINARY DEST" >&2
  exit 2
fi
binary=$1
dest=$2
[ -x "$binary" ] || { echo "bundle-runtime.sh: $binary is not an executable" >&2; exit 1; }
mkdir -p "$dest/bin" "$dest/lib"
cp "$binary" "$dest/bin/collab"
missing=$(ldd "$binary" | awk '/not found/ {print $1}')
if [ -n "$missing" ]; then
  echo "bundle-runtime.sh: $binary needs libraries ldd cannot find: $missing" >&2
  exit 1
fi
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*|libcuda.so.*) ;;
    *) cp -L "$lib" "$dest/lib/" ;;
  esac
done
echo "bundled $(ls "$dest/lib" | wc -l) libraries into $dest/lib ($(du -sh "$dest" | cut -f1) in all)"
