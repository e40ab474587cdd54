#!/usr/bin/env python3
"""Item cold-start benchmark: HybridDotProductBias vs DotProductBias on rarely-rated items.

On MovieLens 100k's predefined folds u1..u5 (uK.base to train, uK.test to test), trains both
models with the same recipe (the shipped configs/dot_product_bias.json: 5 epochs, bs 64,
lr 5e-3, wd 0.1, 50 factors, y_range [0, 5.5]; the hybrid differs only in its arch, plus any
--hybrid-set overrides), predicts every test rating with `collab predict`, and reports per fold
and on average the RMSE over the test ratings of items with at most --max-train-ratings (5)
ratings in that fold's training file, and over all test ratings for context.
Only the standard library: it drives the built `collab` binary.

  python3 bench/item_cold_start.py [--collab build/collab] [--data ../shared/data/ml-100k]
                                   [--folds 1,2,3,4,5] [--max-train-ratings 5]
                                   [--hybrid-set model.feature_bias=false ...]
"""
import argparse
import collections
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def collab(binary, *args):
    out = subprocess.run([binary, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"collab {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def read_ratings(path):
    with open(path) as f:
        return [(u, i, float(r)) for u, i, r, _ in (line.split("\t") for line in f if line.strip())]


def rmse(pairs):
    return math.sqrt(sum((p - r) ** 2 for p, r in pairs) / len(pairs)) if pairs else float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--collab", default=os.path.join(ROOT, "build", "collab"))
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "ml-100k"))
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "dot_product_bias.json"))
    p.add_argument("--folds", default="1,2,3,4,5")
    p.add_argument("--max-train-ratings", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--hybrid-set", action="append", default=[],
                   help="extra --set K=V for the hybrid only (e.g. model.feature_bias=false)")
    p.add_argument("--work", default="", help="folder for runs and predictions (default: temp)")
    a = p.parse_args()

    data = os.path.abspath(a.data)
    work = a.work or tempfile.mkdtemp(prefix="collab-item-cold-start-")
    os.makedirs(work, exist_ok=True)
    with open(a.config) as f:
        base = json.load(f)
    models = {"DotProductBias": ("DotProductBias", []),
              "HybridDotProductBias": ("HybridDotProductBias", a.hybrid_set)}
    folds = [int(k) for k in a.folds.split(",")]
    results = {name: {"rare": [], "all": []} for name in models}
    counts = []
    for k in folds:
        train = read_ratings(os.path.join(data, f"u{k}.base"))
        test_path = os.path.join(data, f"u{k}.test")
        test = read_ratings(test_path)
        n_train = collections.Counter(i for _, i, _ in train)
        rare = [n_train[i] <= a.max_train_ratings for _, i, _ in test]
        counts.append((sum(rare), sum(1 for i in {i for _, i, _ in test} if n_train[i] <= a.max_train_ratings)))
        pairs_path = os.path.join(work, f"u{k}.pairs.csv")
        with open(pairs_path, "w") as f:
            f.writelines(f"{u},{i},{r:g}\n" for u, i, r in test)
        for name, (arch, extra) in models.items():
            config = json.loads(json.dumps(base))
            config["model"]["arch"] = arch
            config["data"] = {"dir": data, "train": f"u{k}.base", "valid": f"u{k}.test",
                              "items": "u.item"}
            config_path = os.path.join(work, f"{name}-u{k}.json")  # overrides go via --set
            with open(config_path, "w") as f:
                json.dump(config, f)
            # Runs are reused when present (rerunning prints the table again), so a variant's
            # overrides are part of its run's name.
            variant = "".join(c if c.isalnum() or c in "._=" else "_" for c in "-".join(extra))
            run = os.path.join(work, f"{name}{'-' + variant if variant else ''}-u{k}")
            if not os.path.exists(os.path.join(run, "checkpoints", "latest")):
                sets = [x for kv in extra for x in ("--set", kv)]
                collab(a.collab, "train", config_path, "--run-dir", run, "--quiet",
                       "--set", f"train.threads={a.threads}", *sets)
            out = collab(a.collab, "predict", run, "--input", pairs_path).splitlines()[1:]
            predicted = [float(line.split(",")[2]) for line in out]
            assert len(predicted) == len(test), (len(predicted), len(test))
            both = list(zip(predicted, (r for _, _, r in test)))
            results[name]["rare"].append(rmse([pr for pr, is_rare in zip(both, rare) if is_rare]))
            results[name]["all"].append(rmse(both))

    print(f"test ratings of items with <= {a.max_train_ratings} training ratings; recipe "
          f"{os.path.relpath(a.config, ROOT)}" +
          (f", hybrid with {' '.join(a.hybrid_set)}" if a.hybrid_set else "") + f"; runs in {work}")
    header = f"{'fold':<6}{'rare ratings':>13}{'rare items':>11}"
    for name in models:
        header += f"{name + ' rare':>27}{'all':>8}"
    print(header)
    for f, k in enumerate(folds):
        row = f"u{k:<5}{counts[f][0]:>13}{counts[f][1]:>11}"
        for name in models:
            row += f"{results[name]['rare'][f]:>27.4f}{results[name]['all'][f]:>8.4f}"
        print(row)
    row = f"{'mean':<6}{sum(c[0] for c in counts) / len(counts):>13.1f}" \
          f"{sum(c[1] for c in counts) / len(counts):>11.1f}"
    for name in models:
        row += (f"{sum(results[name]['rare']) / len(folds):>27.4f}"
                f"{sum(results[name]['all']) / len(folds):>8.4f}")
    print(row)


if __name__ == "__main__":
    main()
