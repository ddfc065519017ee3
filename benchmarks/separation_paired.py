"""Two separators on the same mixtures, compared mixture by mixture: the mean difference of a
metric (B minus A) with its bootstrap 95% interval, from two per-mixture CSVs that
``mirnet eval-separation --csv`` wrote under the same options.

    mirnet eval-separation runs/a --data data/corpus/unseen --n 300 --no-pesq --csv a.csv
    mirnet eval-separation runs/b --data data/corpus/unseen --n 300 --no-pesq --csv b.csv
    python benchmarks/separation_paired.py a.csv b.csv --metric si_sdri

On the same mixtures the two systems' errors are correlated, so the interval of the paired
difference is much narrower than the two separate intervals suggest."""

from __future__ import annotations

import argparse
import csv
import sys

import numpy as np

from mirnet.separation.metrics import summarize


def read(path: str, metric: str) -> dict[str, float]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and metric not in rows[0]:
        sys.exit(f"{path}: no column {metric!r}; it has {', '.join(rows[0])}")
    return {r["mixture"]: float(r[metric]) for r in rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", help="per-mixture CSV of the baseline")
    p.add_argument("b", help="per-mixture CSV of the system compared with it")
    p.add_argument("--metric", default="si_sdri")
    a = p.parse_args()
    base, other = read(a.a, a.metric), read(a.b, a.metric)
    if set(base) != set(other):
        sys.exit(f"{a.a} and {a.b} do not hold the same mixtures: score both under the same options")
    ids = sorted(base)
    x, y = np.array([base[i] for i in ids]), np.array([other[i] for i in ids])
    d = summarize(y - x)
    print(f"{len(ids)} mixtures, {a.metric}: A {x.mean():.2f}, B {y.mean():.2f}")
    print(
        f"B - A: mean {d['mean']:+.2f} [{d['mean_ci'][0]:+.2f}, {d['mean_ci'][1]:+.2f}], median {d['median']:+.2f}"
    )
    print(f"B better on {(y > x).mean():.0%} of the mixtures")


if __name__ == "__main__":
    main()
