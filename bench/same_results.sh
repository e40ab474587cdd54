#!/usr/bin/env bash
# Trains every shipped config with two collab binaries (before and after a change that must not
# change results) and says, per config, whether the final metrics and every epoch's metrics.jsonl
# line (all but the wall-clock seconds) are the same:
#   bash bench/same_results.sh OLD/collab NEW/collab
# Reads MovieLens 100k from $COLLAB_DATA_DIR (default ../shared/data); the accuracy tests' setup
# (fastai's split, 2 threads) is included when ../shared/data/ml-100k-splits is there.
set -u
cd "$(dirname "$0")/.."
old="$1" new="$2"
export COLLAB_DATA_DIR="${COLLAB_DATA_DIR:-$(cd ../shared/data 2>/dev/null && pwd)}"
export OMP_WAIT_POLICY=PASSIVE
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
run() {  # name, config, extra --set arguments...
  local name="$1" config="$2"
  shift 2
  for side in old new; do
    local bin="$old"
    [ "$side" = new ] && bin="$new"
    "$bin" train "configs/$config" --quiet --run-dir "$out/$name-$side" "$@" 2>&1 |
      grep valid_mse >"$out/$name-$side.final"
    python3 -c 'import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line); d.pop("seconds", None); print(json.dumps(d, sort_keys=True))' \
      "$out/$name-$side/metrics.jsonl" >"$out/$name-$side.metrics"
  done
  local verdict=same
  if ! cmp -s "$out/$name-old.final" "$out/$name-new.final" ||
     ! cmp -s "$out/$name-old.metrics" "$out/$name-new.metrics"; then
    verdict=DIFFERENT
    status=1
  fi
  echo "$name: $verdict | old: $(cat "$out/$name-old.final") | new: $(cat "$out/$name-new.final")"
}
run dot_product_bias dot_product_bias.json
run dot_product dot_product.json
run collab_nn collab_nn.json
run content_based content_based.json
run hybrid hybrid_dot_product_bias.json
run sgd sgd_ml100k.json
run sparse_adam sgd_ml100k.json --set train.optimizer=sparse_adam
split="$COLLAB_DATA_DIR/ml-100k-splits/fastai42"
if [ -f "$split.base" ]; then
  for c in dot_product_bias dot_product collab_nn; do
    run "fastai-$c" "$c.json" --set data.train="$split.base" --set data.valid="$split.test" \
      --set train.threads=2
  done
fi
exit $status
