"""The report's text: tables, cells, and the command behind every number."""

from __future__ import annotations

import csv
import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from ... import __version__
from ...checkpoint import PRETRAINED, build_from_bundle, git_commit, read_bundle, resolve
from ..setting import MixtureSetting, TrialSetting
from .cache import Runner
from .systems import System


def separation_command(r: dict) -> str:
    s = r["settings"]
    parts = [f"mirnet eval-separation {r['separator']}", *MixtureSetting.from_record(s).flags()]
    return " ".join(parts + ([] if s["pesq_stoi"] else ["--no-pesq"]))


def eval_command(r: dict) -> str:
    parts = [
        f"mirnet eval {r['model']}",
        *TrialSetting.from_record(r).flags(),
        f"--metric {r['metric']}",
        f"--condition {r['condition']}",
        f"--precision {r.get('precision', 'fp32')}",
    ]
    if r.get("separator"):
        parts.append(f"--separator {r['separator']}")
    if r.get("trial_list"):
        parts.append(f"--trial-list {r['trial_list']}")
    norm = r.get("score_norm")
    if norm:
        parts.append(f"--cohort {norm['cohort']} --score-norm {norm['method']} --top-k {norm['top_k']}")
    return " ".join(parts)


def cohort_command(r: dict, setting: MixtureSetting) -> str:
    """The ``mirnet cohort`` command that drew the cohort of a normalised result."""
    return " ".join(
        [
            f"mirnet cohort {r['model']}",
            *setting.flags(),
            "--training-only",
            *(
                [f"--precision {r['score_norm']['cohort_precision']}"]
                if "cohort_precision" in r["score_norm"]
                else []
            ),
            f"--out {r['score_norm']['cohort']}",
        ]
    )


def mixing(setting: TrialSetting | MixtureSetting) -> str:
    """How a setting mixes, in the words of the report's headings: ``0 dB, full overlap, 3 s``."""
    overlap = "full overlap" if setting.overlap == 1 else f"{setting.overlap:.0%} overlap"
    return f"{setting.sir_db:g} dB, {overlap}, {setting.crop_seconds:g} s"


def describe(setting: TrialSetting | MixtureSetting) -> str:
    """How a setting mixes, speakers first: ``2 speakers at 0 dB, full overlap, 3 s``."""
    return f"{setting.n_speakers} speakers at {mixing(setting)}"


def cell(r: dict | None, ci: bool = True) -> str:
    if r is None:
        return "–"
    text = f"**{r['eer']:.1f}**"
    if ci:
        text += f" ({r['eer_ci'][0]:.1f}–{r['eer_ci'][1]:.1f})"
    return f"{text} / {r['min_dcf']:.3f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(row) + " |" for row in rows],
    ]


def _trained(bundle: dict) -> str:
    prog, data = bundle.get("progress", {}), bundle.get("data", {})
    return (
        f"{prog.get('epoch', '?')} epochs, {float(prog.get('elapsed_s', 0)) / 60:.0f} min "
        f"on `{data.get('source')}` "
        f"({data.get('speakers')} speakers, fingerprint `{data.get('fingerprint')}`)"
    )


def _composed(bundle: dict) -> str:
    """How a composed model's parts were trained (``mirnet compose``), read from their files."""
    parts = []
    for key, part in bundle["data"]["composed_from"].items():
        source = part["source"]
        known = source == PRETRAINED or resolve(source).is_file()
        parts.append(f"{key} `{source}`" + (f": {_trained(read_bundle(source))}" if known else ""))
    return "composed of " + "; ".join(parts)


def system_rows(systems: Sequence[System], run: Runner) -> list[list[str]]:
    rows = []
    for s in systems:
        if s.is_peer:
            rows.append([s.label, f"pretrained peer `{s.path}` ({run.fingerprint(s)})", "1", "–", "–"])
            continue
        b = read_bundle(s.path)
        params = sum(
            v.numel() for k, v in b["state_dict"].items() if v.dtype.is_floating_point and "running" not in k
        )
        rows.append(
            [
                s.label,
                f"`{s.path}`: {b['model']['name']}, {params / 1e6:.2f} M parameters",
                str(build_from_bundle(b, s.path).n_speakers),
                _composed(b) if "composed_from" in b.get("data", {}) else _trained(b),
                f"`{(b.get('git_commit') or '?')[:10]}`",
            ]
        )
    return rows


def interval(summary: dict | None, digits: int) -> str:
    if not summary or not summary.get("n"):
        return "–"
    mean, low, high = (
        round(v, digits) + 0.0 for v in (summary["mean"], *summary["mean_ci"])
    )  # + 0.0: no "-0.00"
    text = f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    return text + (f" ({summary['unscored']} unscored)" if summary.get("unscored") else "")


def last_row(csv_path: Path) -> dict:
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else {}


def versions(systems: Sequence[System]) -> str:
    parts = [
        f"mirnet {__version__} (commit `{(git_commit() or '?')[:10]}`)",
        f"torch {torch.__version__}",
        f"numpy {np.__version__}",
    ]
    for name in {s.path for s in systems if s.is_peer}:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts) + (
        f"; Python {platform.python_version()}, {platform.machine()}, {torch.get_num_threads()} torch threads"
    )


CONDITION_TEXT = {
    "mixture": "`mixture` the paper's enrollment-free protocol",
    "enrolled": "`enrolled` the mixture against clean enrollment utterances of target and non-target",
    "clean": "`clean` the first sources alone (A vs A' vs C'), the bound a mixture model approaches",
    "separated": "`separated` every source alone, outputs pooled: the oracle-separation bound",
    "cascade": "`cascade` each mixture split by the separator first, every output embedded, outputs "
    "pooled: separate, then embed",
}


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def ratios(primary: System, systems: Sequence[System], compared: dict) -> list[str]:
    """The ratios the project's targets are stated in (docs/results/reference.md holds the targets themselves),
    measured on the comparison trials."""
    mixture, clean = compared.get((primary.label, "mixture")), compared.get((primary.label, "clean"))
    peer = next((s for s in systems if s.path == "resemblyzer"), None)
    lines = ["## Ratios", ""]
    if mixture and peer and (peer.label, "mixture") in compared:
        ratio = _ratio(mixture["eer"], compared[peer.label, "mixture"]["eer"])
        lines.append(
            f"- {primary.label} mixture EER / {peer.label} mixture EER = {mixture['eer']:.1f} / "
            f"{compared[peer.label, 'mixture']['eer']:.1f} = **{ratio:.2f}**."
        )
    if mixture and clean:
        ratio = _ratio(mixture["eer"], clean["eer"])
        lines.append(
            f"- {primary.label} mixture EER / its clean EER = {mixture['eer']:.1f} / {clean['eer']:.1f} = "
            f"**{ratio:.1f}**."
        )
    return lines + [""] if len(lines) > 2 else []
