"""The report's sections: each built from what it needs (systems, settings, runs), scoring through
the report's ``Context`` and printing its markdown lines and figures when rendered. Which order they
are scored in, and which they are printed in, is ``writer.write_report``'s."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from ...atomic import write_text
from ...checkpoint import read_bundle
from ..setting import TrialSetting
from .cache import Runner
from .markdown import CONDITION_TEXT, cell, last_row, mixing, ratios, table
from .plan import SWEEPS
from .systems import System, epoch_models

Figures = list[tuple[str, Path]]  # (caption, PNG) in the order the report shows them


@dataclass(frozen=True)
class Printed:
    """What a section prints: its lines in its place, its figures in the report's figure list."""

    lines: list[str]
    figures: Figures = field(default_factory=list)


class Context:
    """What every section scores through and writes beside: the report's folder and runner, and
    every setting and result the sections used (the trial-list and command sections list them)."""

    def __init__(self, run: Runner):
        self.run, self.out = run, run.out
        self.used: dict[str, TrialSetting] = {}
        self.results: list[dict] = []

    def score(self, system: System, setting: TrialSetting, condition: str, raw: bool = False) -> dict:
        self.used[self.run.name(setting)] = setting
        r = self.run.result(system, setting, condition, raw)
        self.results.append(r)
        return r


class Section(Protocol):
    """What the writer asks of a section: to be rendered once, scoring what it needs."""

    def render(self, ctx: Context) -> Printed: ...


# eq=False: a section is itself, hashed as itself, however alike two are (the writer keys by them)
@dataclass(frozen=True, eq=False)
class Headline:
    """The first system, mixture and clean, on the unseen speakers and on the held-out utterances
    of the seen ones (those its bundle lists: a peer has none); each result also as its own file.
    The clean rows may take fewer trials: a bound near 1% EER, which costs a separating system as
    much per trial as the mixture rows."""

    system: System
    setting: TrialSetting
    seen: str | None
    clean_trials: int

    def render(self, ctx: Context) -> Printed:
        settings = [(Path(self.setting.data).name, self.setting)]
        if self.seen is not None and not self.system.is_peer:
            settings.append(
                (
                    f"{Path(self.seen).name}, held-out utterances",
                    replace(self.setting, data=self.seen, heldout=True),
                )
            )
        rows = []
        for where, setting in settings:
            for cond, n in (("mixture", self.setting.trials), ("clean", self.clean_trials)):
                r = ctx.score(self.system, replace(setting, trials=n), cond)
                name = f"eval_{Path(setting.data).name}{'' if cond == 'mixture' else '_' + cond}.json"
                write_text(ctx.out / name, json.dumps(r, indent=1) + "\n")
                rows.append([where, cond, str(r["trials"]), str(r["speakers"]), cell(r)])
        return Printed(
            [
                f"## {self.system.label}: mixture speaker verification",
                "",
                *table(["data", "condition", "trials", "distinct speakers", "EER % (95% CI) / minDCF"], rows),
                "",
            ]
        )


@dataclass(frozen=True, eq=False)
class Comparison:
    """Every system under every condition on one trial list, with the ratios the first system's
    targets are stated in, and DET curves."""

    systems: Sequence[System]
    setting: TrialSetting
    conditions: Sequence[str]

    def render(self, ctx: Context) -> Printed:
        compared = {
            (s.label, c): ctx.score(s, self.setting, c) for s in self.systems for c in self.conditions
        }
        return Printed(
            [
                *ratios(self.systems[0], self.systems, compared),
                f"## All systems on the same {self.setting.trials} trials "
                f"({Path(self.setting.data).name}, {mixing(self.setting)})",
                "",
                "Conditions: " + "; ".join(CONDITION_TEXT[c] for c in self.conditions) + ".",
                "",
                *table(
                    ["system", *self.conditions],
                    [[s.label, *[cell(compared[s.label, c]) for c in self.conditions]] for s in self.systems],
                ),
                "",
            ],
            self._det_figures(ctx, compared),
        )

    def _det_figures(self, ctx: Context, compared: dict) -> Figures:
        from .. import plots

        primary, figs = self.systems[0], []
        if "mixture" in self.conditions:
            figs.append(
                (
                    "DET, mixture condition, all systems",
                    plots.plot_det(
                        {s.label: ctx.run.det(compared[s.label, "mixture"]) for s in self.systems},
                        ctx.out / "figures" / "det_mixture.png",
                        "DET: mixture condition (same trials)",
                    ),
                )
            )
        figs.append(
            (
                f"DET, every condition of {primary.label}",
                plots.plot_det(
                    {c: ctx.run.det(compared[primary.label, c]) for c in self.conditions},
                    ctx.out / "figures" / f"det_{primary.label}.png",
                    f"DET: {primary.label}, every condition (same trials)",
                ),
            )
        )
        return figs


@dataclass(frozen=True, eq=False)
class Sweeps:
    """Every system, mixture condition, along each axis (``SWEEPS``) of ``setting``: one trial list
    per point."""

    systems: Sequence[System]
    setting: TrialSetting
    axes: Mapping[str, tuple]

    def render(self, ctx: Context) -> Printed:
        from .. import plots

        tables: list[str] = []
        figs = []
        for axis, values in self.axes.items():
            key, _, axis_label = SWEEPS[axis]
            cells = {
                s.label: [ctx.score(s, replace(self.setting, **{key: v}), "mixture") for v in values]
                for s in self.systems
            }
            tables += [
                f"### EER vs {axis_label}",
                "",
                *table(
                    ["system", *[f"{v:g}" for v in values]],
                    [[label, *[cell(r, ci=False) for r in rs]] for label, rs in cells.items()],
                ),
                "",
            ]
            figs.append(
                (
                    f"EER vs {axis_label}",
                    plots.plot_sweep(
                        [float(v) for v in values],
                        {label: [r["eer"] for r in rs] for label, rs in cells.items()},
                        ctx.out / "figures" / f"sweep_{axis}.png",
                        axis_label,
                    ),
                )
            )
        if not tables:
            return Printed([], figs)
        return Printed(
            [
                f"## Sweeps: mixture condition, {self.setting.trials} trials per point",
                "",
                f"Each point changes one axis of the base setting ({mixing(self.setting)}, "
                f"{self.setting.n_speakers} speakers) and draws its own trial list, shared by all systems. "
                "A system with fewer outputs than speakers still scores min over its output pairs.",
                "",
                *tables,
            ],
            figs,
        )


@dataclass(frozen=True, eq=False)
class Curves:
    """Every epoch model each run kept, on ``setting``'s trials: EER against training time."""

    runs: Sequence[System]
    setting: TrialSetting

    def render(self, ctx: Context) -> Printed:
        from .. import plots

        rows, points = [], {}
        for c in self.runs:
            points[c.label] = []
            for epoch, minutes, model in epoch_models(c.path):
                r = ctx.score(System(f"{c.label}_epoch{epoch:03d}", str(model)), self.setting, "mixture")
                points[c.label].append((minutes, r["eer"]))
                rows.append([c.label, str(epoch), f"{minutes:.1f}", cell(r)])
        if not rows:
            return Printed([])
        figure = plots.plot_eer_vs_time(points, ctx.out / "figures" / "eer_vs_time.png", "mixture EER (%)")
        return Printed(
            [
                f"## Mixture EER against training time ({self.setting.trials} comparison trials)",
                "",
                "Every epoch model each run kept; minutes are its `epochs.csv` elapsed time, validation included.",
                "",
                *table(["run", "epoch", "minutes", "EER % (95% CI) / minDCF"], rows),
                "",
            ],
            [("mixture EER against training time", figure)],
        )


@dataclass(frozen=True, eq=False)
class PaperFigures:
    """The paper's figures, no text: t-SNE of the first system, the attention of the first system
    that has one (MIRNet's, behind a separating reference), and the first system's training
    curves, on mixtures of ``data`` drawn with ``seed``."""

    systems: Sequence[System]
    data: str
    seed: int

    def render(self, ctx: Context) -> Printed:
        from .. import figures

        figs = []
        primary = self.systems[0]
        if not primary.is_peer:
            prefix = ctx.out / "figures" / f"tsne_{primary.label}"
            by_speaker, by_output = figures.tsne_figures(primary.path, self.data, prefix, seed=self.seed)
            figs += [
                (
                    f"t-SNE of {primary.label}'s mixture embeddings, colour = speaker (paper Fig. 3a)",
                    by_speaker,
                ),
                ("the same, marker = output stream (paper Fig. 3b)", by_output),
            ]
        attending = [
            s
            for s in self.systems
            if not s.is_peer and read_bundle(s.path)["model"]["args"].get("n_speakers", 1) > 1
        ]
        if attending:
            figs.append(
                (
                    f"attention of {attending[0].label} vs source power (paper Fig. 2)",
                    figures.attention_figure(
                        attending[0].path, self.data, ctx.out / "figures" / "attention.png", seed=self.seed
                    ),
                )
            )
        if not primary.is_peer and (Path(primary.path) / "steps.csv").exists():
            figs.append(
                (
                    f"training curves of {primary.label}",
                    figures.training_curve_figure(
                        primary.path, ctx.out / "figures" / f"curves_{primary.label}.png"
                    ),
                )
            )
        return Printed([], figs)


@dataclass(frozen=True, eq=False)
class ShortRun:
    """A training run's last epoch and its training curves. No run, no section."""

    run: str | None

    def render(self, ctx: Context) -> Printed:
        from .. import figures

        if not self.run:
            return Printed([])
        run = Path(self.run)
        figs = []
        if (run / "steps.csv").exists():
            figs.append(
                (
                    "training curves of the short run",
                    figures.training_curve_figure(self.run, ctx.out / "figures" / "curves_train_run.png"),
                )
            )
        last = last_row(run / "epochs.csv") if (run / "epochs.csv").exists() else {}
        return Printed(
            [
                "## Short training run",
                "",
                f"`{self.run}`: {last.get('epoch', '?')} epochs, {last.get('step', '?')} steps in "
                f"{float(last.get('elapsed_s', 0)) / 60:.1f} min; "
                f"final train loss {float(last.get('train_loss', 'nan')):.3f}, "
                f"validation loss {float(last.get('val_loss', 'nan')):.3f}, validation PIT accuracy "
                f"{float(last.get('val_pit_acc', 'nan')):.3f} (held-out utterances of the training speakers). "
                f"Resolved config `{self.run}/config.yaml`, per-step log `{self.run}/steps.csv`.",
                "",
            ],
            figs,
        )


@dataclass(frozen=True, eq=False)
class Composed:
    """A section composed above this layer (the diarization section of
    ``apps.diarization_scoring.report_section``): ``lines`` called with the report's folder and
    each system's cohort by label (None without a score norm)."""

    lines: Callable[[Path, dict], list[str]]
    systems: Sequence[System]

    def render(self, ctx: Context) -> Printed:
        return Printed(self.lines(ctx.out, {s.label: ctx.run.cohort(s) for s in self.systems}))
