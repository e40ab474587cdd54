#!/usr/bin/env python3
"""A half-star ratings file (0.5-5 in steps of 0.5, as MovieLens' current releases) from a planted
model, for measuring what y_range suits such a scale; written as ratings.csv
(userId,movieId,rating,timestamp with a header). Ours; regenerable; numpy only.

Planted model: r = clip(round_half(mu + b_u + b_i + <p_u, q_i> + eps), 0.5, 5) with mu = 3.5,
b_u ~ N(0, 0.4^2), b_i ~ N(0, 0.5^2), p_u, q_i ~ N(0, 0.35^2 I_16), eps ~ N(0, 0.6^2); users and
items drawn with Zipf-like popularity ((rank + offset)^-1), repeated pairs dropped.

usage: bench/gen_half_stars.py OUT.csv [--users 610] [--items 9000] [--nnz 100000] [--seed 1]
"""
import argparse
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--users", type=int, default=610)
ap.add_argument("--items", type=int, default=9000)
ap.add_argument("--nnz", type=int, default=100_000)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)


def popularity(n, offset):
    w = 1.0 / (np.arange(n) + offset)
    return rng.permutation(n), w / w.sum()


users, pu = popularity(a.users, 20)
items, pi = popularity(a.items, 50)
pairs = set()
rows = []
while len(rows) < a.nnz:
    u = users[rng.choice(a.users, size=a.nnz, p=pu)]
    i = items[rng.choice(a.items, size=a.nnz, p=pi)]
    for x, y in zip(u, i):
        if (x, y) not in pairs and len(rows) < a.nnz:
            pairs.add((x, y))
            rows.append((x, y))
u = np.array([r[0] for r in rows])
i = np.array([r[1] for r in rows])
bu, bi = rng.normal(0, 0.4, a.users), rng.normal(0, 0.5, a.items)
p, q = rng.normal(0, 0.35, (a.users, 16)), rng.normal(0, 0.35, (a.items, 16))
raw = 3.5 + bu[u] + bi[i] + np.einsum("nk,nk->n", p[u], q[i]) + rng.normal(0, 0.6, len(u))
r = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
with open(a.out, "w") as f:
    f.write("userId,movieId,rating,timestamp\n")
    for n, (x, y, z) in enumerate(zip(u, i, r)):
        f.write(f"{x + 1},{y + 1},{z:.1f},{1000000000 + n}\n")
print("ratings", len(r), "mean %.3f" % r.mean(), "histogram", np.histogram(r, bins=np.arange(0.25, 5.3, 0.5))[0].tolist())
