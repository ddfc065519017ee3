"""SI-SDRi against training time: every k-th epoch model a separator run kept
(``train.keep_epoch_models``), scored on the same mixtures of unseen voices and of the seen
voices' held-out utterances, beside the minutes the run had trained by then.

    python benchmarks/separation_curve.py runs/reference/upit --every 10 --mixtures 64

Minutes are the trainer's wall-clock time of the training loop (``epochs.csv``, ``elapsed_s``),
with the threads the run was given (its config's ``train.threads``)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import yaml

from _timing import REPO, add_common_args, conditions, table, write_json
from mirnet.eval.separation import evaluate_separation
from mirnet.eval.setting import MixtureSetting


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a separator's training run (its epochs/ and epochs.csv)")
    p.add_argument("--every", type=int, default=10, help="score every k-th epoch, and the last")
    p.add_argument("--mixtures", type=int, default=64)
    p.add_argument("--unseen", default=str(REPO / "data" / "corpus" / "unseen"))
    p.add_argument("--seen", default=str(REPO / "data" / "corpus" / "seen"))
    add_common_args(p, "separation_curve")
    a = p.parse_args()
    with (a.run / "epochs.csv").open() as f:
        minutes = {int(r["epoch"]): float(r["elapsed_s"]) / 60 for r in csv.DictReader(f)}
    threads = yaml.safe_load((a.run / "config.yaml").read_text())["train"]["threads"]
    files = sorted(a.run.glob("epochs/epoch*.pt"))
    last = int(files[-1].stem[5:])
    rows = []
    for f in files:
        epoch = int(f.stem[5:])
        if epoch % a.every and epoch != last:
            continue
        row = {"epoch": epoch, "minutes": minutes.get(epoch)}
        for name, data, heldout in (("unseen", a.unseen, False), ("seen", a.seen, True)):
            r = evaluate_separation(
                f, MixtureSetting(data, a.mixtures, heldout=heldout), pesq_stoi=False, progress=False
            )
            row[f"si_sdri_{name}"] = r["metrics"]["si_sdri"]["mean"]
            row[f"ci_{name}"] = r["metrics"]["si_sdri"]["mean_ci"]
        rows.append(row)
        print(
            table([row], ["epoch", "minutes", "si_sdri_unseen", "si_sdri_seen"]).splitlines()[-1], flush=True
        )
    print(table(rows, ["epoch", "minutes", "si_sdri_unseen", "si_sdri_seen"]))
    write_json(
        a.json,
        {
            "conditions": conditions(),
            "run": str(a.run),
            "threads": threads,
            "mixtures": a.mixtures,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
