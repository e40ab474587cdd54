#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU, CUDA's compiler and PyTorch (with CUDA) installed;
# needs no network. It builds collab against the LibTorch inside that PyTorch, trains each
# architecture on MovieLens 100k on `cuda` and on `cpu` with the same config and seed, checks that
# the final valid MSE agree within 0.01, and prints DotProductBias's rating-updates/s on the GPU at
# batch sizes 64, 4096 and 65536 (lr scaled as the README's "Training on a GPU" says).
#   COLLAB_DATA_DIR=/path/holding/ml-100k bash bench/gpu_check.sh
# Runs in about 3-5 minutes on one GPU; exit status 0 only when every check passes.
# Without a GPU, `GPU_CHECK_DEVICE=cpu SKIP_BUILD=1 BUILD_DIR=build` runs the same steps with the
# CPU standing in for the GPU and an existing build: a rehearsal of the script, not a GPU check.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
build=${BUILD_DIR:-build-gpu}
data=${COLLAB_DATA_DIR:-../shared/data}
[ -f "$data/ml-100k/u.data" ] || {
  echo "gpu_check.sh: no MovieLens 100k in $data/ml-100k: set COLLAB_DATA_DIR" >&2
  exit 1
}
export COLLAB_DATA_DIR=$(cd "$data" && pwd)
export OMP_WAIT_POLICY=PASSIVE

device=${GPU_CHECK_DEVICE:-cuda}
[ "$device" = cpu ] || "$python" - <<'PY' || { echo "gpu_check.sh: $python has no PyTorch that sees a GPU" >&2; exit 1; }
import torch, sys
assert torch.cuda.is_available()
print(f"PyTorch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}, "
      f"C++11 ABI {int(torch.compiled_with_cxx11_abi())}")
PY
# The wheel's LibTorch may use the old C++ ABI, which Debian's GoogleTest and Google Benchmark
# libraries do not: the check needs only the collab binary.
start=$(date +%s)
if [ -z "${SKIP_BUILD:-}" ]; then
  prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DCOLLAB_BUILD_TESTS=OFF -DCOLLAB_BUILD_BENCH=OFF >"$build.configure.log" 2>&1 ||
    { tail -30 "$build.configure.log"; exit 1; }
  cmake --build "$build" -j "$(nproc)" >"$build.build.log" 2>&1 || { tail -40 "$build.build.log"; exit 1; }
  echo "built $build/collab in $(( $(date +%s) - start )) s"
fi

runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
# Trains CONFIG on DEVICE with extra --set overrides; prints the final valid MSE.
train() {
  local config=$1 device=$2 name=$3
  shift 3
  "$build/collab" train "configs/$config.json" --quiet --run-dir "$runs/$name" \
    --set train.device="$device" --set checkpoint.every_epochs=0 "$@" |
    awk '/^valid_mse/ {print $2}'
}
# Median seconds of the epochs after the first (which pays for CUDA's warm-up).
epoch_seconds() {
  "$python" -c '
import json, statistics, sys
s = [json.loads(l)["seconds"] for l in open(sys.argv[1])][1:]
print(statistics.median(s))' "$runs/$1/metrics.jsonl"
}

status=0
printf "\n%-16s %-10s %-10s %-8s %s\n" arch cpu_mse "${device}_mse" diff verdict
for config in dot_product dot_product_bias collab_nn; do
  cpu=$(train "$config" cpu "$config-cpu")
  cuda=$(train "$config" "$device" "$config-$device")
  verdict=$("$python" -c "import sys; d = abs($cpu - $cuda); print(f'{d:.4f}', 'ok' if d <= 0.01 else 'DIFFERS')")
  [[ "$verdict" == *ok ]] || status=1
  printf "%-16s %-10.4f %-10.4f %s\n" "$config" "$cpu" "$cuda" "$verdict"
done

# Throughput: 80000 training ratings per epoch; lr_max scaled with sqrt(batch/64), capped at 0.1.
printf "\n%-8s %-10s %-12s %-16s %s\n" batch lr_max s/epoch updates/s valid_mse
for bs in 64 4096 65536; do
  lr=$("$python" -c "print(min(0.1, 5e-3 * ($bs / 64) ** 0.5))")
  mse=$(train dot_product_bias "$device" "speed-$bs" --set train.batch_size="$bs" \
    --set train.lr_max="$lr" --set train.epochs=6 --set train.eval_batch_size=65536)
  sec=$(epoch_seconds "speed-$bs")
  "$python" -c "
bs, sec = $bs, $sec
steps = 80000 // bs
print(f'{bs:<8} {$lr:<10.4g} {sec:<12.4f} {steps * bs / sec:<16.3e} {$mse:.4f}')"
done
echo
[ "$status" -eq 0 ] && echo "gpu_check: PASS" || echo "gpu_check: FAIL (cpu and cuda MSE differ by more than 0.01)"
exit "$status"
