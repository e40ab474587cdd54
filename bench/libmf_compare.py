#!/usr/bin/env python3
"""collab's sparse SGD against LIBMF on MovieLens 100k u1 (issue 22), both measured in one run.

Whole processes, interleaved, medians of --repeats: 20 passes and --long passes of each, so that
(T_long - T_20) / (long - 20) is the marginal cost of a pass, start-up and reading excluded; and
the test RMSE of the 20-pass models on u1.test. collab evaluates u1.test and logs a line after
every pass, which LIBMF with --quiet and no -p does not: collab's training time alone
(train_seconds) is printed too, and LIBMF is also timed with -p u1.test (no --quiet), which
evaluates and logs every pass as collab does. Both train k = 50 factors with 2 threads:
  collab  configs/sgd_ml100k.json (DotProductBias, lr 0.05 one-cycle, wd 0.1), no checkpoints
  LIBMF   mf-train -k 50 -s 2 -l2 0.1 -t N (its defaults otherwise: lr 0.1, adaptive), then
          mf-predict on u1.test
LIBMF is built from its public source (github.com/cjlin1/libmf; `make` in its folder, which
uses its own Makefile: g++ -O3 -fopenmp with SSE); pass the folder with --libmf.

  python3 bench/libmf_compare.py --libmf /tmp/libmf [--collab build/collab] [--repeats 5]
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ML100K = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "ml-100k"))


def timed(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {out.stderr}{out.stdout}")
    return seconds, out.stdout


def to_libmf(src, dst):
    with open(src) as f, open(dst, "w") as g:
        for line in f:
            u, i, r, _ = line.split("\t")
            g.write(f"{u} {i} {r}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--libmf", required=True)
    parser.add_argument("--collab", default="build/collab")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--long", type=int, default=500)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="collab-libmf-")
    train, test = os.path.join(work, "u1.base"), os.path.join(work, "u1.test")
    to_libmf(os.path.join(ML100K, "u1.base"), train)
    to_libmf(os.path.join(ML100K, "u1.test"), test)
    env_dir = os.path.dirname(ML100K)

    def collab(passes, rep):
        return timed([args.collab, "train", os.path.join(ROOT, "configs", "sgd_ml100k.json"),
                      "--run-dir", os.path.join(work, f"c{passes}-{rep}"),
                      "--set", f"train.epochs={passes}", "--set", "train.threads=2",
                      "--set", "checkpoint.every_epochs=0", "--set", f"data.dir={ML100K}"])

    def libmf(passes, rep, evaluating=False):
        model = os.path.join(work, f"l{passes}-{rep}.model")
        # --quiet: training alone; -p u1.test instead: the test RMSE and a log line every pass.
        mode = ["-p", test] if evaluating else ["--quiet"]
        return timed([os.path.join(args.libmf, "mf-train"), "-k", "50", "-s", "2", "-l2", "0.1",
                      "-t", str(passes)] + mode + [train, model]), model

    times = {k: [] for k in ("c20", "cL", "l20", "lL", "lp20", "lpL")}
    passes_only = []  # collab's train_seconds / passes of the long run: no evaluation, no I/O
    first_pass, other_passes = [], []  # the long run's pass 0 and the median of passes 1.., s
    rmse_c, rmse_l = [], []
    for rep in range(args.repeats):
        (t, out) = collab(20, rep)
        times["c20"].append(t)
        rmse_c.append(float(re.search(r"valid_rmse ([0-9.]+)", out).group(1)))
        (t, _), model = libmf(20, rep)
        times["l20"].append(t)
        _, pred = timed([os.path.join(args.libmf, "mf-predict"), test, model,
                         os.path.join(work, "out.txt")])
        rmse_l.append(float(re.search(r"RMSE = ([0-9.]+)", pred).group(1)))
        (t, out) = collab(args.long, rep)
        times["cL"].append(t)
        passes_only.append(float(re.search(r"train_seconds ([0-9.]+)", out).group(1)) / args.long)
        with open(os.path.join(work, f"c{args.long}-{rep}", "metrics.jsonl")) as f:
            seconds = [json.loads(line)["seconds"] for line in f]
        first_pass.append(seconds[0])
        other_passes.append(statistics.median(seconds[1:]))
        times["lL"].append(libmf(args.long, rep)[0][0])
        times["lp20"].append(libmf(20, rep, evaluating=True)[0][0])
        times["lpL"].append(libmf(args.long, rep, evaluating=True)[0][0])
    med = {k: statistics.median(v) for k, v in times.items()}
    span = args.long - 20
    mc, ml = (med["cL"] - med["c20"]) / span, (med["lL"] - med["l20"]) / span
    mlp = (med["lpL"] - med["lp20"]) / span
    print(f"medians of {args.repeats}, interleaved; 2 threads, k = 50, MovieLens 100k u1")
    print("| | whole process, 20 passes | marginal per pass | u1.test RMSE (20 passes) |")
    print("|---|---|---|---|")
    print(f"| collab | {med['c20']:.3f} s | {mc * 1e3:.2f} ms | {statistics.median(rmse_c):.4f} |")
    print(f"| LIBMF | {med['l20']:.3f} s | {ml * 1e3:.2f} ms | {statistics.median(rmse_l):.4f} |")
    print(f"| LIBMF / collab | {med['l20'] / med['c20']:.2f}x | {ml / mc:.2f}x | |")
    print(f"| LIBMF -p u1.test (evaluates and logs every pass, as collab does) | "
          f"{med['lp20']:.3f} s | {mlp * 1e3:.2f} ms | |")
    print(f"| LIBMF -p / collab | {med['lp20'] / med['c20']:.2f}x | {mlp / mc:.2f}x | |")
    po = statistics.median(passes_only)
    print(f"collab's passes alone (train_seconds / {args.long}, without its per-pass evaluation "
          f"and log, which LIBMF --quiet does not do): {po * 1e3:.2f} ms, LIBMF / that "
          f"{ml / po:.2f}x")
    print(f"collab's first pass (evaluation included, metrics.jsonl) {statistics.median(first_pass) * 1e3:.2f} ms "
          f"against {statistics.median(other_passes) * 1e3:.2f} ms for the median later pass "
          f"(per run: {', '.join(f'{x * 1e3:.2f}' for x in first_pass)} ms)")


if __name__ == "__main__":
    main()
