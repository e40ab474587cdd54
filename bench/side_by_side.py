#!/usr/bin/env python3
"""Side-by-side benchmark: `collab train` against the plain-PyTorch peer
(../shared/peers/torch_ref.py, run with /usr/bin/python3) on the same split, the same recipe
and the same threads, in the same run. Prints, per architecture and batch size, the median over
--repeats runs of s/epoch, rating-updates/s, peak RSS and final valid MSE for both, and the
ratios. These machines are noisy: read the ratios, not the absolute times.

  python3 bench/side_by_side.py [--collab build/collab] [--repeats 3] [--bs 64 1024]
      [--models dot dotbias nn] [--threads 2] [--epochs 5]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
PEER = os.path.join(SHARED, "peers", "torch_ref.py")
SPLIT = os.path.join(SHARED, "data", "ml-100k-splits", "fastai42")

# collab config and torch_ref arguments for the same model and hyper-parameters.
MODELS = {
    "dot": ("dot_product.json", ["--model", "dot", "--no-y-range", "--wd", "0.01"]),
    "dotbias": ("dot_product_bias.json", ["--model", "dotbias", "--wd", "0.1"]),
    "nn": ("collab_nn.json", ["--model", "nn", "--wd", "0.01", "--n-act", "100"]),
}


def peak_rss_mb(cmd, env=None):
    # GNU time is not always installed: wrap in python's resource accounting instead.
    wrapper = ("import resource,subprocess,sys;"
               "r=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
               "sys.stdout.write(r.stdout);sys.stderr.write(r.stderr);"
               "print('PEAK_RSS_KB',resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
               "sys.exit(r.returncode)")
    res = subprocess.run([sys.executable, "-c", wrapper] + cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr}")
    lines = res.stdout.strip().splitlines()
    rss = int(lines[-1].split()[1]) / 1024.0
    return "\n".join(lines[:-1]), rss


def run_collab(args, model, bs):
    config, _ = MODELS[model]
    with tempfile.TemporaryDirectory() as run_dir:
        cmd = [args.collab, "train", os.path.join(ROOT, "configs", config), "--quiet",
               "--run-dir", run_dir, "--set", f"data.train={SPLIT}.base",
               "--set", f"data.valid={SPLIT}.test", "--set", f"train.batch_size={bs}",
               "--set", f"train.threads={args.threads}", "--set", f"train.epochs={args.epochs}"]
        env = dict(os.environ, COLLAB_DATA_DIR=os.path.join(SHARED, "data"))
        _, rss = peak_rss_mb(cmd, env)
        epochs = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
    return statistics.mean(e["seconds"] for e in epochs), epochs[-1]["valid_mse"], rss


def run_peer(args, model, bs):
    _, extra = MODELS[model]
    cmd = ["/usr/bin/python3", PEER, "--train", SPLIT + ".base", "--valid", SPLIT + ".test",
           "--bs", str(bs), "--threads", str(args.threads), "--epochs", str(args.epochs)] + extra
    out, rss = peak_rss_mb(cmd)
    epochs = [json.loads(l) for l in out.splitlines() if l.startswith("{\"epoch\"")]
    return statistics.mean(e["seconds"] for e in epochs), epochs[-1]["valid_mse"], rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collab", default=os.path.join(ROOT, "build", "collab"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bs", type=int, nargs="+", default=[64, 1024])
    ap.add_argument("--models", nargs="+", default=["dot", "dotbias", "nn"], choices=list(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    if not os.path.exists(SPLIT + ".base"):
        sys.exit(f"MovieLens 100k split not found at {SPLIT}.base")

    n_train = sum(1 for _ in open(SPLIT + ".base"))
    print(f"{'model':8} {'bs':>5} | {'collab s/ep':>11} {'torch s/ep':>10} {'speedup':>7} | "
          f"{'collab upd/s':>12} {'torch upd/s':>11} | {'collab MB':>9} {'torch MB':>8} | "
          f"{'collab MSE':>10} {'torch MSE':>9}")
    for model in args.models:
        for bs in args.bs:
            c_runs, p_runs = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                c_runs.append(run_collab(args, model, bs))
                p_runs.append(run_peer(args, model, bs))
            med = lambda runs, k: statistics.median(r[k] for r in runs)
            updates = (n_train // bs) * bs
            cs, ps = med(c_runs, 0), med(p_runs, 0)
            print(f"{model:8} {bs:>5} | {cs:>11.3f} {ps:>10.3f} {ps / cs:>6.2f}x | "
                  f"{updates / cs:>12,.0f} {updates / ps:>11,.0f} | {med(c_runs, 2):>9.0f} "
                  f"{med(p_runs, 2):>8.0f} | {med(c_runs, 1):>10.4f} {med(p_runs, 1):>9.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
