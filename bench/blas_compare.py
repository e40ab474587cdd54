#!/usr/bin/env python3
"""Reference BLAS against OpenBLAS for LibTorch, in one run: Debian's LibTorch (and the peer's
python3-torch) call whatever `libblas.so.3` the alternatives system links, so each process here is
pointed at one or the other by LD_LIBRARY_PATH, interleaved round by round. Measures CollabNN
training (bench/side_by_side.py: collab and the plain-PyTorch peer, s/epoch) and CollabNN
inference (`collab recommend --all-users`: every (user, item) pair through the MLP), and prints
the median of --rounds runs of each under each library, with the library each process loaded.

  python3 bench/blas_compare.py --model-dir RUN_DIR_OF_A_COLLABNN [--rounds 3] [--bs 64 1024]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIBS = {
    "reference": "/usr/lib/x86_64-linux-gnu/blas",
    "openblas": "/usr/lib/x86_64-linux-gnu/openblas-openmp",
}


def env_for(lib):
    env = dict(os.environ, LD_LIBRARY_PATH=LIBS[lib], OMP_WAIT_POLICY="PASSIVE")
    return env


def loaded_blas(collab, env):
    """The libblas.so.3 a collab process resolves under `env` (ldd follows LD_LIBRARY_PATH)."""
    out = subprocess.run(["ldd", collab], capture_output=True, text=True, env=env).stdout
    m = re.search(r"libblas\.so\.3 => (\S+)", out)
    return os.path.realpath(m.group(1)) if m else "?"


def side_by_side(collab, lib, bs):
    out = subprocess.run([sys.executable, os.path.join(HERE, "side_by_side.py"), "--collab", collab,
                          "--models", "nn", "--bs", str(bs), "--repeats", "1"],
                         capture_output=True, text=True, env=env_for(lib), check=True).stdout
    row = [l for l in out.splitlines() if l.startswith("nn ")][-1]
    numbers = re.findall(r"[\d.]+", row.split("|")[1])
    return float(numbers[0]), float(numbers[1])  # collab s/epoch, peer s/epoch


def all_users_seconds(collab, lib, model_dir):
    t0 = time.perf_counter()
    subprocess.run([collab, "recommend", model_dir, "--all-users", "--output", os.devnull],
                   capture_output=True, env=env_for(lib), check=True)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--collab", default=os.path.join(ROOT, "build", "collab"))
    ap.add_argument("--model-dir", required=True, help="run dir of a trained CollabNN")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bs", type=int, nargs="+", default=[64, 1024])
    args = ap.parse_args()
    for lib in LIBS:
        if not os.path.exists(os.path.join(LIBS[lib], "libblas.so.3")):
            sys.exit(f"{LIBS[lib]}/libblas.so.3 missing (apt-get install libopenblas0-openmp)")
        print(f"{lib}: collab loads {loaded_blas(args.collab, env_for(lib))}")
    samples = {}
    for r in range(args.rounds):
        for lib in LIBS:
            for bs in args.bs:
                c, p = side_by_side(args.collab, lib, bs)
                samples.setdefault((lib, f"train bs {bs}", "collab"), []).append(c)
                samples.setdefault((lib, f"train bs {bs}", "peer"), []).append(p)
            samples.setdefault((lib, "recommend --all-users", "collab"), []).append(
                all_users_seconds(args.collab, lib, args.model_dir))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"\nCollabNN, medians of {args.rounds} interleaved rounds (seconds: s/epoch for training)")
    print(f"{'what':24} {'who':7} {'reference':>10} {'openblas':>10} {'speedup':>8}")
    for what in [f"train bs {bs}" for bs in args.bs] + ["recommend --all-users"]:
        for who in ("collab", "peer"):
            if ("reference", what, who) not in samples:
                continue
            ref = statistics.median(samples[("reference", what, who)])
            fast = statistics.median(samples[("openblas", what, who)])
            print(f"{what:24} {who:7} {ref:10.3f} {fast:10.3f} {ref / fast:7.2f}x")


if __name__ == "__main__":
    main()
