#!/usr/bin/env python3
"""Cold-start benchmark for `collab recommend --ratings` (fold-in).

Holds out USERS users of MovieLens 100k from training, trains the model on everyone else, then for
each held-out user gives the fold-in GIVEN of their ratings (picked at random) and predicts the
rest. Reports the RMSE on those remaining ratings of:
  fold-in       `collab recommend RUN --ratings "i:r,..."` (the user's vector solved for)
  mean user     `--fallback mean-user` (the average trained user's predictions, no ratings used)
  item bias     `--fallback bias` (the item's learned bias with the mean user bias, no factors)
Only the standard library: it drives the built `collab` binary.

  python3 bench/cold_start.py [--collab build/collab] [--data ../shared/data/ml-100k]
                              [--config configs/dot_product_bias.json] [--users 100] [--given 5]
"""
import argparse
import json
import math
import os
import random
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


def predictions(binary, run, *args):
    """Predicted rating of every item, by raw id."""
    out = json.loads(collab(binary, "recommend", run, "-k", "0", "--include-seen", "--json", *args))
    return {e["item"]: e["score"] for e in out["items"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--collab", default=os.path.join(ROOT, "build", "collab"))
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "ml-100k"))
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "dot_product_bias.json"))
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--given", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prior-weight", type=float, action="append",
                   help="fold-in prior weight(s) to try (default: collab's own default)")
    p.add_argument("--work", default="",
                   help="folder for the split and the run (default: a temp dir)")
    a = p.parse_args()

    rows = []
    with open(os.path.join(a.data, "u.data")) as f:
        for line in f:
            u, i, r, t = line.split("\t")
            rows.append((u, i, float(r), t.strip()))
    rng = random.Random(a.seed)
    users = sorted({r[0] for r in rows}, key=int)
    held = set(rng.sample(users, a.users))
    rest = [r for r in rows if r[0] not in held]
    rng.shuffle(rest)
    n_valid = len(rest) // 5
    work = a.work or tempfile.mkdtemp(prefix="collab-cold-start-")
    os.makedirs(work, exist_ok=True)
    for name, part in (("train.tsv", rest[n_valid:]), ("valid.tsv", rest[:n_valid])):
        with open(os.path.join(work, name), "w") as f:
            f.writelines("\t".join((u, i, str(int(r)), t)) + "\n" for u, i, r, t in part)
    with open(a.config) as f:
        config = json.load(f)
    config["data"] = {"dir": work, "train": "train.tsv", "valid": "valid.tsv",
                      "items": os.path.abspath(os.path.join(a.data, "u.item"))}
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    run = os.path.join(work, "run")
    if not os.path.exists(os.path.join(run, "checkpoints", "latest")):
        collab(a.collab, "train", config_path, "--run-dir", run, "--quiet",
               "--set", f"train.threads={a.threads}")

    by_user = {}
    for u, i, r, _ in rows:
        if u in held:
            by_user.setdefault(u, []).append((i, r))
    mean_user = predictions(a.collab, run, "--fallback", "mean-user")
    try:
        item_bias = predictions(a.collab, run, "--fallback", "bias")
    except SystemExit:
        item_bias = None  # architectures without an item bias
    weights = a.prior_weight or [None]
    sq = {"mean user": 0.0, "item bias": 0.0, **{w: 0.0 for w in weights}}
    n = 0
    for u in sorted(held, key=int):
        ratings = by_user[u][:]
        rng.shuffle(ratings)
        given, test = ratings[:a.given], ratings[a.given:]
        spec = ",".join(f"{i}:{int(r)}" for i, r in given)
        for w in weights:
            extra = [] if w is None else ["--prior-weight", str(w)]
            folded = predictions(a.collab, run, "--ratings", spec, *extra)
            sq[w] += sum((folded[i] - r) ** 2 for i, r in test)
        sq["mean user"] += sum((mean_user[i] - r) ** 2 for i, r in test)
        if item_bias:
            sq["item bias"] += sum((item_bias[i] - r) ** 2 for i, r in test)
        n += len(test)

    arch = config["model"]["arch"]
    print(f"{arch}: {a.users} held-out users, {a.given} ratings given each, {n} ratings predicted "
          f"(seed {a.seed}; run {run})")
    print(f"{'method':<28} RMSE")
    for w in weights:
        label = "fold-in" + ("" if w is None else f" (prior weight {w})")
        print(f"{label:<28} {math.sqrt(sq[w] / n):.4f}")
    print(f"{'mean-user embedding':<28} {math.sqrt(sq['mean user'] / n):.4f}")
    if item_bias:
        print(f"{'item bias only':<28} {math.sqrt(sq['item bias'] / n):.4f}")


if __name__ == "__main__":
    main()
