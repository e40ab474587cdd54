#!/usr/bin/env python3
"""Distributed sparse SGD (DSGD over c10d, train/sparse_train.h): pass time and bytes per pass
for W = 1, 2, 4 ranks on one machine (loopback Gloo), against the traffic model of the README's
"Distributed sparse training".

For each W: `collab launch --nproc W -- train` (W = 1: a plain `collab train`) on the synthetic
set gen_synth.py writes, DotProductBias k = 32, train.optimizer "sgd", the same B x B grid
(--blocks, a multiple of every W) and 1 thread per rank, so every run trains the same blocks in
the same order and must print the same valid RMSE. Printed per W (medians over --repeats,
W interleaved): seconds per pass (rank 0's train_seconds / passes: training, item rotation and
the end-of-pass assembly), rank 0's bytes sent per pass as collab counts them, the bytes the
model predicts, and the loopback interface's transmitted bytes per pass (/proc/net/dev "lo":
every rank's traffic plus TCP/IP headers, the TCPStore and the rendezvous).

Model, per rank and pass (row = (k + 1) x 4 bytes: a factor row and its bias, float32):
  rotation  (B - 1) item ranges of about I / B rows each      ~ (B - 1) / B x I x row
  assembly  one ring allreduce of the whole tables            2 (W - 1) / W x ((U + I) x row + 8 B^2)
  votes     one 8-byte allreduce per round                    2 (W - 1) / W x 8 B

  python3 bench/dsgd_scaling.py [--collab build/collab] [--synth /tmp/synth2m] [--blocks 8]
                                [--passes 5] [--repeats 3] [--ranks 1,2,4]
Generate the data with /usr/bin/python3 ../shared/peers/gen_synth.py /tmp/synth2m --nnz 2000000
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile


def lo_tx_bytes():
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                return int(rest.split()[8])
    return 0


def vocabulary_sizes(paths):
    users, items = set(), set()
    for path in paths:
        with open(path) as f:
            for line in f:
                u, i, _ = line.split()
                users.add(u)
                items.add(i)
    return len(users), len(items)


def run(args, config_path, world, run_dir):
    train = ["train", config_path, "--run-dir", run_dir]
    cmd = [args.collab] + (["launch", "--nproc", str(world), "--"] + train if world > 1 else train)
    before = lo_tx_bytes()
    out = subprocess.run(cmd, capture_output=True, text=True)
    lo = lo_tx_bytes() - before
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr}{out.stdout}")
    seconds = float(re.search(r"train_seconds ([0-9.]+)", out.stdout).group(1))
    rmse = re.search(r"valid_rmse ([0-9.]+)", out.stdout).group(1)
    sent = re.search(r"bytes_sent (\d+)", out.stdout)
    return seconds, int(sent.group(1)) if sent else 0, lo, rmse


def predicted_bytes(world, blocks, users, items, k):
    row = (k + 1) * 4
    ring = 2 * (world - 1) / world
    rotation = (blocks - 1) / blocks * items * row if world > 1 else 0
    assembly = ring * ((users + items) * row + 8 * blocks * blocks)
    votes = ring * 8 * blocks
    return rotation + assembly + votes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--collab", default="build/collab")
    parser.add_argument("--synth", default="/tmp/synth2m")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ranks", default="1,2,4")
    parser.add_argument("--factors", type=int, default=32)
    args = parser.parse_args()
    train_file = os.path.join(args.synth, "synth.train.txt")
    test_file = os.path.join(args.synth, "synth.test.txt")
    if not os.path.exists(train_file):
        sys.exit(f"{train_file} missing: see --help")
    users, items = vocabulary_sizes([train_file, test_file])
    work = tempfile.mkdtemp(prefix="collab-dsgd-")
    config = {"data": {"train": train_file, "valid": test_file, "delimiter": " ",
                       "cache_dir": os.path.join(work, "cache")},
              "model": {"arch": "DotProductBias", "n_factors": args.factors, "y_range": [0, 5.5]},
              "train": {"optimizer": "sgd", "epochs": args.passes, "lr_max": 0.05,
                        "weight_decay": 0.1, "blocks": args.blocks, "threads": 1},
              "checkpoint": {"every_epochs": 0}}
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    worlds = [int(w) for w in args.ranks.split(",")]
    results = {w: [] for w in worlds}
    run(args, config_path, 1, os.path.join(work, "warm"))  # writes the ratings cache
    for rep in range(args.repeats):
        for w in worlds:
            results[w].append(run(args, config_path, w, os.path.join(work, f"w{w}-{rep}")))
    print(f"{users} users, {items} items, k = {args.factors}, B = {args.blocks}, "
          f"{args.passes} passes, 1 thread per rank, medians of {args.repeats}")
    print("| ranks | s/pass | bytes/pass sent (rank 0, counted) | predicted | "
          "loopback tx bytes/pass (all ranks) | valid RMSE |")
    print("|---|---|---|---|---|---|")
    for w in worlds:
        rows = results[w]
        spp = statistics.median(r[0] for r in rows) / args.passes
        sent = statistics.median(r[1] for r in rows) / args.passes
        lo = statistics.median(r[2] for r in rows) / args.passes
        rmses = sorted({r[3] for r in rows})
        pred = predicted_bytes(w, args.blocks, users, items, args.factors)
        print(f"| {w} | {spp:.4f} | {sent:,.0f} | {pred:,.0f} | {lo:,.0f} | {', '.join(rmses)} |")


if __name__ == "__main__":
    main()
