"""EER against training time: score every per-epoch snapshot of an experiment
(train.keep_epoch_models=true) on one fixed trial list and write a CSV and a plot.

    python benchmarks/eer_vs_time.py runs/reference/mirnet --data data/corpus/unseen --trials 500
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from mirnet.eval.evaluate import evaluate
from mirnet.eval.plots import plot_eer_vs_time
from mirnet.train.checkpoint import read_bundle


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exp")
    p.add_argument("--data", required=True)
    p.add_argument("--trials", type=int, default=500)
    p.add_argument("--condition", default="mixture", choices=("mixture", "clean"))
    p.add_argument("--heldout", action="store_true")
    p.add_argument("--every", type=int, default=1, help="score every k-th snapshot (and always the last)")
    p.add_argument("--out", help="CSV path (default EXP/eer_vs_time.csv; the PNG goes beside it)")
    a = p.parse_args()
    exp = Path(a.exp)
    out = Path(a.out) if a.out else exp / "eer_vs_time.csv"
    trial_list = out.with_suffix(".trials.json")
    trial_list.unlink(missing_ok=True)
    rows = []
    snaps = sorted((exp / "epochs").glob("epoch*.pt"))
    for snap in [s for i, s in enumerate(snaps) if (i + 1) % a.every == 0 or i == len(snaps) - 1]:
        progress = read_bundle(snap)["progress"]
        r = evaluate(snap, a.data, trials=a.trials, condition=a.condition, heldout=a.heldout,
                     trial_list=trial_list, progress=False)
        rows.append({"epoch": progress["epoch"], "step": progress["step"],
                     "minutes": round(progress["elapsed_s"] / 60, 2), "eer": round(r["eer"], 2),
                     "eer_lo": round(r["eer_ci"][0], 2), "eer_hi": round(r["eer_ci"][1], 2)})
        print(json.dumps(rows[-1]), flush=True)
    if not rows:
        raise SystemExit(f"{exp}/epochs holds no snapshots: train with train.keep_epoch_models=true")
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot_eer_vs_time([(r["minutes"], r["eer"]) for r in rows], out.with_suffix(".png"),
                     label=f"{a.condition} EER (%) on {a.data}")
    print(out)


if __name__ == "__main__":
    main()
