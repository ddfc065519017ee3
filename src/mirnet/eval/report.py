"""REPORT.md: the EER table, the training curve and the figures, with the command behind each
number, the model's provenance and the library versions, so a reader can re-run any line."""
from __future__ import annotations

import csv
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..train.checkpoint import read_bundle


def eval_command(r: dict) -> str:
    parts = [f"mirnet eval {r['model']} --data {r['data']}", f"--trials {r['trials']}", f"--sir {r['sir_db']:g}",
             f"--seed {r['seed']}", f"--metric {r['metric']}", f"--condition {r['condition']}",
             f"--crop {r['crop_seconds']:g}"]
    if r.get("heldout"):
        parts.append("--heldout")
    if r.get("trial_list"):
        parts.append(f"--trial-list {r['trial_list']}")
    return " ".join(parts)


def _eer_table(results: list[dict]) -> list[str]:
    lines = ["| data | speakers | condition | trials | metric | SIR dB | EER % (95% CI) | minDCF(0.01) | trial list SHA-1 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lo, hi = r["eer_ci"]
        data = r["data"] + (" (held-out utterances)" if r.get("heldout") else "")
        lines.append(f"| {data} | {r['speakers']} | {r['condition']} | {r['trials']} | {r['metric']} | "
                     f"{r['sir_db']:g} | **{r['eer']:.2f}** ({lo:.2f}–{hi:.2f}) | {r['min_dcf']:.3f} | "
                     f"`{(r.get('trial_list_sha1') or '-')[:12]}` |")
    return lines


def _last_row(csv_path: Path) -> dict:
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else {}


def write_report(out_dir, exp, eval_jsons, train_run=None, figures=()) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bundle = read_bundle(exp)
    params = sum(v.numel() for k, v in bundle["state_dict"].items() if v.dtype.is_floating_point and "running" not in k)
    results = [json.loads(Path(p).read_text()) for p in eval_jsons]
    prog, data = bundle.get("progress", {}), bundle.get("data", {})
    lines = [f"# mirnet report — {Path(exp).name}", "",
             f"Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `mirnet report`.", "",
             "## Model", "",
             f"- `{bundle['model']['name']}` with {params / 1e6:.2f} M parameters, "
             f"{bundle['model']['args'].get('n_speakers', 1)} output(s) per mixture; constructor arguments in `{exp}/config.yaml`.",
             f"- Trained {prog.get('epoch', '?')} epochs / {prog.get('step', '?')} steps "
             f"({float(prog.get('elapsed_s', 0)) / 60:.1f} min of training compute) on `{data.get('source')}`: "
             f"{data.get('speakers')} speakers, {data.get('utterances')} utterances, manifest fingerprint `{data.get('fingerprint')}`.",
             f"- Code: mirnet {bundle.get('mirnet_version')} at commit `{bundle.get('git_commit')}`.", "",
             "## Mixture speaker verification (paper section 4.1.2)", "",
             "Anchor A+B, positive A'+C, negative C'+D; distance = min over output pairs; one target and one "
             "non-target score per trial; EER interval from 1000 stratified bootstrap resamples. `clean` scores the "
             "same trials' first sources alone (A vs A' vs C'), the bound the mixture condition approaches.", "",
             *_eer_table(results), "", "Commands:", "", "```",
             *[eval_command(r) for r in results], "```", ""]
    if train_run:
        run = Path(train_run)
        last = _last_row(run / "epochs.csv") if (run / "epochs.csv").exists() else {}
        lines += ["## Short training run (the training path, from scratch)", "",
                  f"`{run}`: {last.get('epoch', '?')} epochs, {last.get('step', '?')} steps in "
                  f"{float(last.get('elapsed_s', 0)) / 60:.1f} min; final train loss {float(last.get('train_loss', 'nan')):.3f}, "
                  f"validation loss {float(last.get('val_loss', 'nan')):.3f}, validation PIT accuracy "
                  f"{float(last.get('val_pit_acc', 'nan')):.3f} (held-out utterances of the training speakers). "
                  f"Resolved config: `{run}/config.yaml`; per-step log `{run}/steps.csv`.", ""]
    if figures:
        lines += ["## Figures", ""]
        for f in figures:
            rel = Path(f).resolve().relative_to(out.resolve()) if Path(f).resolve().is_relative_to(out.resolve()) else Path(f)
            lines += [f"![{Path(f).stem}]({rel})", ""]
    lines += ["## Environment", "",
              f"- mirnet {__version__}, torch {torch.__version__}, numpy {np.__version__}, "
              f"Python {platform.python_version()}, {platform.machine()}, {torch.get_num_threads()} threads.", ""]
    path = out / "REPORT.md"
    path.write_text("\n".join(lines))
    return path
