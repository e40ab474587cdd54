#!/usr/bin/env python3
"""fastai's lr_find on the plain-PyTorch peer's DotProductBias, for `collab lr-find` to compare with.

fastai is not installed on these machines, so this is fastai 2.7's LRFinder procedure written
out on ../shared/peers/torch_ref.py's model: Adam with fastai's default momentum (0.9), beta2
0.99, eps 1e-5 and decoupled weight decay (torch's AdamW computes fastai's Adam step), the lr
start_lr * (end_lr / start_lr) ** (i / num_it) for batch i, fastai's debiased smoothed loss
(beta 0.98), a stop once it passes 4x its minimum, and fastai's valley / minimum / steep on the
curve trimmed to [num_it // 10, -5) (copied from fastai/callback/schedule.py).

  /usr/bin/python3 bench/lr_find_peer.py --train ../shared/data/ml-100k-splits/fastai42.base \
      --seeds 1 2 3 4 5
"""
import argparse, math, os, sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peers"))
import torch_ref  # noqa: E402


def valley(lrs, losses):
    n = len(losses); max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1): lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i; max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


def minimum(lrs, losses):
    return lrs[losses.argmin()].item() / 10


def steep(lrs, losses):
    grads = (losses[1:] - losses[:-1]) / (lrs[1:].log() - lrs[:-1].log())
    return lrs[grads.argmin()].item()


def sweep(users, items, ratings, seed, args):
    torch.manual_seed(seed)
    n_users, n_items = max(users) + 1, max(items) + 1
    model = torch_ref.DotProductBias(n_users, n_items, args.factors, (0.0, 5.5))
    opt = torch.optim.AdamW(model.parameters(), lr=args.start_lr, betas=(0.9, 0.99), eps=1e-5,
                            weight_decay=args.wd)
    x = torch.tensor(list(zip(users, items)), dtype=torch.long); y = torch.tensor(ratings)
    perm = torch.randperm(len(y))
    lrs, losses, avg, best = [], [], 0.0, float("inf")
    for i in range(args.num_it):
        lr = args.start_lr * (args.end_lr / args.start_lr) ** (i / args.num_it)
        for g in opt.param_groups: g["lr"] = lr
        idx = perm[i * args.bs:(i + 1) * args.bs]
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad(); loss.backward(); opt.step()
        avg = 0.98 * avg + 0.02 * loss.item()
        smooth = avg / (1 - 0.98 ** (i + 1))
        lrs.append(lr); losses.append(smooth)
        best = min(best, smooth)
        if smooth > 4 * best or math.isnan(smooth): break
    k = args.num_it // 10
    t_lrs = torch.tensor(lrs[k:-5], dtype=torch.float64); t_losses = torch.tensor(losses[k:-5], dtype=torch.float64)
    return len(lrs), valley(t_lrs, t_losses), minimum(t_lrs, t_losses), steep(t_lrs, t_losses)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--factors", type=int, default=50)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--num-it", type=int, default=100)
    ap.add_argument("--start-lr", type=float, default=1e-7)
    ap.add_argument("--end-lr", type=float, default=10.0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    users, items, ratings = torch_ref.read_ratings(args.train)
    print("seed batches valley minimum steep")
    for seed in args.seeds:
        n, v, m, s = sweep(users, items, ratings, seed, args)
        print(f"{seed} {n} {v:.3e} {m:.3e} {s:.3e}")


if __name__ == "__main__":
    sys.exit(main())
