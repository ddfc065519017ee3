"""The report's separation section (paper section 4.2): every separator on the same mixtures, with
spectrograms and WAVs of the first ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ...api import load_separator
from ...audio import save_audio
from ...corpus.manifest import Manifest
from ...progress import Progress, bars
from ..separation import drawn_mixtures, match, separate
from ..setting import MixtureSetting
from .cache import ENROLL_SECONDS, SeparationRunner
from .markdown import interval, separation_command, table
from .sections import Context, Printed
from .systems import System

SEPARATION_MIXTURES = 100  # per separation table
EXAMPLE_MIXTURES = (
    2  # first mixtures of the unseen setting written out as WAVs; the first also as spectrograms
)
# (result key, column, decimals) of a separation table: the improvements, then how good the outputs are
SEPARATION_COLUMNS = (
    ("sdri", "SDRi (dB)", 2),
    ("si_sdri", "SI-SDRi (dB)", 2),
    ("pesqi", "PESQi", 2),
    ("stoii", "STOIi", 3),
    ("si_sdr", "SI-SDR (dB)", 2),
)


def separation_cells(r: dict) -> list[str]:
    """A separation result's cells, one per ``SEPARATION_COLUMNS``."""
    return [interval(r["metrics"].get(k), d) for k, _, d in SEPARATION_COLUMNS]


def _examples(out: Path, loaded: dict, setting: MixtureSetting, manifest: Manifest) -> list[str]:
    """The first mixtures of ``setting`` as every separator hears them: WAVs to listen to, and the
    first as spectrograms, outputs matched to the references as they were scored."""
    from .. import plots

    enroll = ENROLL_SECONDS if any(sep.mode == "enrolled" for sep in loaded.values()) else 0.0
    items = list(
        drawn_mixtures(manifest, min(EXAMPLE_MIXTURES, setting.n), setting.mixing(), setting.seed, enroll)
    )
    outputs = {}
    for label, sep in loaded.items():
        outputs[label] = [
            (e if sep.mode == "enrolled" else match(e, torch.from_numpy(item.references))).numpy()
            for e, item in zip(separate(sep, items), items)
        ]
    lines = []
    for i, item in enumerate(items):
        folder = out / "examples" / f"mixture{item.id}"
        files = [
            save_audio(folder / "mixture.wav", item.mixture),
            *[save_audio(folder / f"reference{k + 1}.wav", ref) for k, ref in enumerate(item.references)],
        ]
        files += [
            save_audio(folder / f"{label}.speaker{k + 1}.wav", wav)
            for label, est in outputs.items()
            for k, wav in enumerate(est[i])
        ]
        links = ", ".join(f"[{f.name}]({f.relative_to(out)})" for f in files)
        lines.append(
            f"- `examples/mixture{item.id}/` (mixture {item.id}, speakers {', '.join(item.speakers)}): "
            f"{links}"
        )
    first = items[0]
    refs = list(first.references)
    figure = plots.plot_spectrogram_grid(
        {
            "mixture / references": [first.mixture, *refs],
            **{f"{label} ({loaded[label].mode})": [None, *est[0]] for label, est in outputs.items()},
        },
        ["mixture", *[f"speaker {k + 1}" for k in range(len(refs))]],
        out / "figures" / "separation_spectrograms.png",
        f"{Path(setting.data).name}, mixture {first.id}: speakers {', '.join(first.speakers)}",
    )
    return [
        f"**Log-magnitude spectrograms of mixture {first.id}**: the mixture and its references, then each "
        "separator's outputs under the reference each was scored against.",
        "",
        f"![{figure.stem}]({figure.relative_to(out)})",
        "",
        f"Listen: the first {len(items)} mixtures of the {Path(setting.data).name} table, each with its "
        "references and every separator's outputs (speakerK matched to referenceK).",
        "",
        *lines,
        "",
    ]


@dataclass(frozen=True, eq=False)
class Separation:
    """Every separator on the same mixtures of ``setting`` (and of ``seen``'s utterances each held
    out of training), one table per corpus, with the command behind each row; ``pesq_stoi=False``
    skips the two slow metrics. No separators, no section."""

    separators: Sequence[System]
    setting: MixtureSetting
    seen: str | None = None
    pesq_stoi: bool = True
    progress: Progress = bars

    def render(self, ctx: Context) -> Printed:
        if not self.separators:
            return Printed([])
        loaded = {s.label: load_separator(s.path) for s in self.separators}  # a wrong file: refused first
        run = SeparationRunner(ctx.out, self.pesq_stoi, self.progress)
        base = self.setting
        settings = [(f"{Path(base.data).name}: unseen speakers", base)]
        if self.seen is not None:
            settings.append(
                (
                    f"{Path(self.seen).name}: held-out utterances of the training speakers",
                    replace(base, data=self.seen, heldout=True),
                )
            )
        lines = [
            "## Separation (paper section 4.2)",
            "",
            f"Every separator in a table heard the very same {base.n} mixtures (mixture i drawn from rng "
            f"({base.seed}, i)): {base.n_speakers} speakers at {base.sir_db:g} dB, fully overlapped, "
            f"{base.crop_seconds:g} s. Outputs are matched to the references by SI-SDR, except an enrolled "
            "separator's: output k is meant to be enrollment k's speaker (enrolled on "
            f"{ENROLL_SECONDS:g} s of another of their utterances). Cells: mean [95% bootstrap interval over "
            "the mixtures] of the per-mixture mean over sources; SDRi, SI-SDRi and SI-SDR in dB, PESQi in "
            "wide-band PESQ (MOS-LQO) points, STOIi in STOI points (0-1); mode: `independent` uPIT, "
            "`mixture` conditioned on the embedder's identities of the mixture, `enrolled` on enrolled "
            "references. Per-mixture scores: `evals/separation/LABEL/SETTING.csv`.",
            "",
        ]
        for where, setting in settings:
            results, unrecorded = [], []
            for s in self.separators:
                if setting.heldout and not loaded[s.label].bundle.get("data", {}).get("heldout"):
                    unrecorded.append(s.label)
                else:
                    results.append(run.result(s, setting))
            lines += [f"### {where} ({setting.n} mixtures)", ""]
            if results:
                rows = [[r["label"], r["mode"], *separation_cells(r)] for r in results]
                lines += [
                    *table(["separator", "mode", *[c for _, c, _ in SEPARATION_COLUMNS]], rows),
                    "",
                    "```",
                    *[separation_command(r) for r in results],
                    "```",
                    "",
                ]
            if unrecorded:
                lines += [
                    f"Not scored here: {', '.join(unrecorded)} (the model file records no held-out utterances).",
                    "",
                ]
        return Printed(lines + _examples(ctx.out, loaded, base, run.corpus(base.data)))
