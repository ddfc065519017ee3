"""`mirnet report`: every system scored side by side on the same trial lists, in one run, and
written up as REPORT.md with the command behind each number.

The report is a plan of evaluations: a *setting* (corpus, trial count, SIR, overlap, crop,
speakers, seed) fixes one trial list that every system and condition under it is scored on.
Results (JSON) and trial scores (``.npz``) are cached under ``OUT/evals`` and reused only when
the system file and the trial list are unchanged, so an interrupted report resumes where it
stopped and adding a system re-scores nothing else. Separators are scored the same way, on
mixtures drawn once per *separation setting*, cached under ``OUT/evals/separation``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from ...api import load_separator
from ...atomic import write_text
from ...checkpoint import read_bundle
from ...errors import InputError
from .. import TOP_K
from ..protocol import CONDITIONS
from ..setting import MixtureSetting, TrialSetting
from ..trials import trial_list_sha1
from .cache import Runner
from .markdown import (
    CONDITION_TEXT,
    cell,
    cohort_command,
    eval_command,
    last_row,
    ratios,
    system_rows,
    table,
    versions,
)
from .recorded_section import TAG, check_split, recorded_section
from .separation_section import SEPARATION_MIXTURES, separation_section
from .systems import SWEEPS, System, epoch_models, parse_sweeps, parse_systems


def write_report(
    out_dir: str | Path,
    systems: Sequence[str],
    data: str | Path,
    *,
    seen: str | Path | None = None,
    trials: int = 1000,
    compare_trials: int | None = None,
    sweep_trials: int | None = None,
    clean_trials: int | None = None,
    conditions: Sequence[str] | None = None,
    separator: str | Path | None = None,
    sweeps: Sequence[str] | None = None,
    seed: int = 0,
    metric: str = "cosine",
    score_norm: str | None = None,
    top_k: int = TOP_K,
    precision: str = "auto",
    train_run: str | Path | None = None,
    curves: Sequence[str] = (),
    paper_figures: bool = True,
    separators: Sequence[str] = (),
    separation_mixtures: int | None = None,
    separation_pesq_stoi: bool = True,
    recorded: str | Path | None = None,
    recorded_trials: int | None = None,
    sections: Sequence[Callable[[Path, dict], list[str]]] = (),
    command: str = "",
    progress: bool = True,
) -> Path:
    """Score ``systems`` (first = the system the report is about) and write ``OUT/REPORT.md``.

    - headline: the first system on ``trials`` trials of ``data`` (and of ``seen`` held-out
      utterances), mixture, and clean on ``clean_trials`` (default ``trials``; equal to
      ``compare_trials``, the unseen clean row is the comparison's own result, scored once);
    - all systems x ``conditions`` on one ``compare_trials`` list, with DET curves (default: every
      condition; ``cascade``, behind ``separator``, only when one is given);
    - all systems, mixture condition, along each sweep axis on ``sweep_trials`` lists;
    - for each run in ``curves`` (``[LABEL=]RUN``), every epoch it kept, mixture condition on the
      comparison trials: EER against training time;
    - every separator in ``separators`` (``[LABEL=]PATH``) on the same ``separation_mixtures``
      mixtures (default 100) of ``data`` (and of ``seen``'s held-out utterances), with
      spectrograms and WAVs of the first mixtures; ``separation_pesq_stoi=False`` skips the two
      slow metrics;
    - with ``recorded`` (a split of recorded voices none of the systems trained on): every system,
      mixture and clean, raw and normalised, on ``recorded_trials`` trials (default
      ``compare_trials``) of it and of ``data``, and every separator on the separation mixtures of
      both (``recorded_section``);
    - each of ``sections``, called with ``out`` and each system's cohort by label (None without
      ``score_norm``): markdown lines of a section composed above this layer (the diarization
      section of ``apps.diarization_scoring.report_section``).

    ``score_norm`` (``SCORE_NORMS``) normalises every score against each system's own cohort,
    drawn from ``seen``'s utterances that the system did not hold out (``cache.Runner``).
    ``precision``: every mirnet system's embeddings, as ``mirnet.load``'s (``auto``, ``fp32``,
    ``bf16``); the separators, figures and peers run as they ship.
    """

    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    systems_, axes = parse_systems(systems), parse_sweeps(sweeps)
    if conditions is None:
        conditions = [c for c in CONDITIONS if c != "cascade" or separator is not None]
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        raise InputError(f"unknown condition(s) {', '.join(bad)}; choose from {', '.join(CONDITIONS)}")
    if ("cascade" in conditions) != (separator is not None):
        raise InputError("the cascade condition needs --separator SEP, and --separator is only for it")
    if score_norm is not None and separator is not None:
        raise InputError(
            "--score-norm: a cascade has no cohort of its own; join the pair with mirnet compose"
        )
    if recorded_trials is not None and recorded is None:
        raise InputError("--recorded-trials: the trials of the --recorded section; give --recorded DIR")
    recorded = None if recorded is None else str(recorded)
    primary = systems_[0]
    runner = Runner(
        out,
        metric,
        progress,
        None if separator is None else str(separator),
        score_norm,
        None if seen is None else str(seen),
        top_k,
        seed,
        precision,
        None if recorded is None else {recorded: TAG},
    )
    score = _Scorer(runner)
    data = str(data)
    base = TrialSetting(data, trials, seed)
    compare = replace(base, trials=compare_trials or trials)
    recorded_base = replace(compare, trials=recorded_trials or compare.trials)  # on data, then recorded
    if recorded is not None:  # a wrong folder is refused now, not after hours of scoring
        check_split(runner, recorded, data, recorded_base)
    # separators first: a wrong file is refused, and their scores computed, before hours of embedding
    separators_ = parse_systems(separators, "separator") if separators else []
    loaded = {s.label: load_separator(s.path) for s in separators_}
    separation = (
        separation_section(
            out,
            separators_,
            loaded,
            data,
            None if seen is None else str(seen),
            separation_mixtures or SEPARATION_MIXTURES,
            seed,
            separation_pesq_stoi,
            progress,
        )
        if separators_
        else []
    )
    sweep_base = replace(base, trials=sweep_trials or trials)
    head_rows = _headline(out, score, primary, base, seen, clean_trials or trials)
    compared = {(s.label, c): score(s, compare, c) for s in systems_ for c in conditions}
    recorded_lines = (  # right after the comparison: its embeddings are still in memory
        recorded_section(
            out,
            score,
            systems_,
            recorded_base,
            recorded,
            separators_,
            MixtureSetting(data, separation_mixtures or SEPARATION_MIXTURES, seed),
            separation_pesq_stoi,
            progress,
        )
        if recorded is not None
        else []
    )
    figs = _det_figures(out, score.run, primary, systems_, conditions, compared)
    sweep_lines, sweep_figs = _sweeps(out, score, systems_, sweep_base, axes)
    curve_lines, curve_figs = _curves(out, score, compare, curves)
    figs += sweep_figs + curve_figs + _paper_figures(out, systems_, data, seed, paper_figures, train_run)

    lines = [
        f"# mirnet report: {', '.join(s.label for s in systems_)}",
        "",
        f"Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `{command or 'mirnet report'}`.",
        "",
        "Protocol (paper section 4.1.2): anchor A+B, positive A'+C, negative C'+D; distance = min over output "
        f"pairs ({metric}); one target and one non-target score per trial. Cells: **EER %** (95% bootstrap "
        "interval, 1000 stratified resamples) / minDCF (p_target 0.01). Every system in a table was scored on "
        "the same trial list (checksums below).",
        "",
        *_normalisation(runner, seen),
        "## Systems",
        "",
        *table(["label", "system", "outputs", "trained", "commit"], system_rows(systems_, score.run)),
        "",
        f"## {primary.label}: mixture speaker verification",
        "",
        *table(["data", "condition", "trials", "distinct speakers", "EER % (95% CI) / minDCF"], head_rows),
        "",
        *ratios(primary, systems_, compared),
        f"## All systems on the same {compare.trials} trials ({Path(data).name}, 0 dB, full overlap, 3 s)",
        "",
        "Conditions: " + "; ".join(CONDITION_TEXT[c] for c in conditions) + ".",
        "",
        *table(
            ["system", *conditions],
            [[s.label, *[cell(compared[s.label, c]) for c in conditions]] for s in systems_],
        ),
        "",
        *sweep_lines,
        *curve_lines,
        *separation,
        *recorded_lines,
    ]
    cohorts = {s.label: runner.cohort(s) for s in systems_}
    for section in sections:
        lines += section(out, cohorts)
    lines += ["## Figures", ""]
    for caption, path in figs:
        lines += [f"**{caption}**", "", f"![{path.stem}]({path.resolve().relative_to(out.resolve())})", ""]
    lines += [*_short_run(train_run), *_provenance(score, systems_)]
    path = out / "REPORT.md"
    write_text(path, "\n".join(lines))
    return path


Figures = list[tuple[str, Path]]  # (caption, PNG) in the order the report shows them


class _Scorer:
    """Scores through the runner and keeps every setting and result the report used, for its
    trial-list and command sections."""

    def __init__(self, run: Runner):
        self.run = run
        self.used: dict[str, TrialSetting] = {}
        self.results: list[dict] = []

    def __call__(self, system: System, setting: TrialSetting, condition: str, raw: bool = False) -> dict:
        self.used[self.run.name(setting)] = setting
        r = self.run.result(system, setting, condition, raw)
        self.results.append(r)
        return r


def _headline(
    out: Path, score: _Scorer, primary: System, base: TrialSetting, seen, clean_trials: int
) -> list[list[str]]:
    """The first system, mixture and clean, on the unseen speakers and on the held-out utterances
    of the seen ones (those its bundle lists: a peer has none); each result also as its own file.
    The clean rows may take fewer trials: a bound near 1% EER, which costs a separating system as
    much per trial as the mixture rows."""
    settings = [(Path(base.data).name, base)]
    if seen is not None and not primary.is_peer:
        settings.append(
            (f"{Path(seen).name}, held-out utterances", replace(base, data=str(seen), heldout=True))
        )
    rows = []
    for where, setting in settings:
        for cond, n in (("mixture", base.trials), ("clean", clean_trials)):
            r = score(primary, replace(setting, trials=n), cond)
            name = f"eval_{Path(setting.data).name}{'' if cond == 'mixture' else '_' + cond}.json"
            write_text(out / name, json.dumps(r, indent=1) + "\n")
            rows.append([where, cond, str(r["trials"]), str(r["speakers"]), cell(r)])
    return rows


def _det_figures(out: Path, run: Runner, primary: System, systems, conditions, compared: dict) -> Figures:
    from .. import plots

    figs = []
    if "mixture" in conditions:
        figs.append(
            (
                "DET, mixture condition, all systems",
                plots.plot_det(
                    {s.label: run.det(compared[s.label, "mixture"]) for s in systems},
                    out / "figures" / "det_mixture.png",
                    "DET: mixture condition (same trials)",
                ),
            )
        )
    figs.append(
        (
            f"DET, every condition of {primary.label}",
            plots.plot_det(
                {c: run.det(compared[primary.label, c]) for c in conditions},
                out / "figures" / f"det_{primary.label}.png",
                f"DET: {primary.label}, every condition (same trials)",
            ),
        )
    )
    return figs


def _sweeps(out: Path, score: _Scorer, systems, base: TrialSetting, axes: dict) -> tuple[list[str], Figures]:
    """Every system, mixture condition, along each axis: one trial list per point."""
    from .. import plots

    tables: list[str] = []
    figs = []
    for axis, values in axes.items():
        field, _, axis_label = SWEEPS[axis]
        cells = {s.label: [score(s, replace(base, **{field: v}), "mixture") for v in values] for s in systems}
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
                    out / "figures" / f"sweep_{axis}.png",
                    axis_label,
                ),
            )
        )
    if not tables:
        return [], figs
    return [
        f"## Sweeps: mixture condition, {base.trials} trials per point",
        "",
        "Each point changes one axis of the base setting (0 dB, full overlap, 3 s, 2 speakers) and draws "
        "its own trial list, shared by all systems. A system with fewer outputs than speakers still "
        "scores min over its output pairs.",
        "",
        *tables,
    ], figs


def _curves(
    out: Path, score: _Scorer, compare: TrialSetting, curves: Sequence[str]
) -> tuple[list[str], Figures]:
    """Every epoch model each run kept, on the comparison trials: EER against training time."""
    from .. import plots

    rows, points = [], {}
    for c in parse_systems(curves) if curves else []:
        points[c.label] = []
        for epoch, minutes, model in epoch_models(c.path):
            r = score(System(f"{c.label}_epoch{epoch:03d}", str(model)), compare, "mixture")
            points[c.label].append((minutes, r["eer"]))
            rows.append([c.label, str(epoch), f"{minutes:.1f}", cell(r)])
    if not rows:
        return [], []
    figure = plots.plot_eer_vs_time(points, out / "figures" / "eer_vs_time.png", "mixture EER (%)")
    return [
        f"## Mixture EER against training time ({compare.trials} comparison trials)",
        "",
        "Every epoch model each run kept; minutes are its `epochs.csv` elapsed time, validation included.",
        "",
        *table(["run", "epoch", "minutes", "EER % (95% CI) / minDCF"], rows),
        "",
    ], [("mixture EER against training time", figure)]


def _paper_figures(
    out: Path, systems: Sequence[System], data: str, seed: int, paper: bool, train_run
) -> Figures:
    """The paper's figures: t-SNE of the first system, the attention of the first system that
    has one (MIRNet's, behind a separating reference), and training curves."""
    from .. import figures

    figs = []
    primary = systems[0]
    if paper and not primary.is_peer:
        prefix = out / "figures" / f"tsne_{primary.label}"
        by_speaker, by_output = figures.tsne_figures(primary.path, data, prefix, seed=seed)
        figs += [
            (f"t-SNE of {primary.label}'s mixture embeddings, colour = speaker (paper Fig. 3a)", by_speaker),
            ("the same, marker = output stream (paper Fig. 3b)", by_output),
        ]
    attending = [
        s for s in systems if not s.is_peer and read_bundle(s.path)["model"]["args"].get("n_speakers", 1) > 1
    ]
    if paper and attending:
        figs.append(
            (
                f"attention of {attending[0].label} vs source power (paper Fig. 2)",
                figures.attention_figure(
                    attending[0].path, data, out / "figures" / "attention.png", seed=seed
                ),
            )
        )
    if paper and not primary.is_peer and (Path(primary.path) / "steps.csv").exists():
        figs.append(
            (
                f"training curves of {primary.label}",
                figures.training_curve_figure(primary.path, out / "figures" / f"curves_{primary.label}.png"),
            )
        )
    if train_run and (Path(train_run) / "steps.csv").exists():
        figs.append(
            (
                "training curves of the short run",
                figures.training_curve_figure(train_run, out / "figures" / "curves_train_run.png"),
            )
        )
    return figs


def _short_run(train_run) -> list[str]:
    if not train_run:
        return []
    last = last_row(Path(train_run) / "epochs.csv") if (Path(train_run) / "epochs.csv").exists() else {}
    return [
        "## Short training run",
        "",
        f"`{train_run}`: {last.get('epoch', '?')} epochs, {last.get('step', '?')} steps in "
        f"{float(last.get('elapsed_s', 0)) / 60:.1f} min; "
        f"final train loss {float(last.get('train_loss', 'nan')):.3f}, "
        f"validation loss {float(last.get('val_loss', 'nan')):.3f}, validation PIT accuracy "
        f"{float(last.get('val_pit_acc', 'nan')):.3f} (held-out utterances of the training speakers). "
        f"Resolved config `{train_run}/config.yaml`, per-step log `{train_run}/steps.csv`.",
        "",
    ]


def _normalisation(run: Runner, seen) -> list[str]:
    if run.score_norm is None:
        return []
    how = {
        "asnorm": f"AS-norm: each side z-normalised by its {run.top_k} highest cosines to the cohort",
        "mean": "the cosine after subtracting the cohort's mean embedding",
    }[run.score_norm]
    return [
        f"Scores are normalised against each system's own cohort ({how}). A cohort holds every output "
        f"of {run.cohort_setting.n} mixtures of `{seen}` drawn from the utterances the system did not "
        "hold out, so no held-out trial's utterance is in it (commands below).",
        "",
    ]


def _provenance(score: _Scorer, systems) -> list[str]:
    """Every trial list with its checksum, every number's command, and the versions."""
    return [
        "## Trial lists",
        "",
        *table(
            ["setting", "file", "SHA-1", "trials", "seed"],
            [
                [
                    name,
                    f"`{score.run.trial_list(s)}`",
                    f"`{trial_list_sha1(score.run.trial_list(s))[:12]}`",
                    str(s.trials),
                    str(s.seed),
                ]
                for name, s in score.used.items()
            ],
        ),
        "",
        "## Commands",
        "",
        "Every number above, re-run alone (the trial list is re-read, so the seed "
        "and mixing options are those it was drawn with):",
        "",
        "```",
        *dict.fromkeys(
            cohort_command(r, score.run.cohort_setting) for r in score.results if r.get("score_norm")
        ),
        *dict.fromkeys(eval_command(r) for r in score.results),
        "```",
        "",
        "## Environment",
        "",
        f"- {versions(systems)}.",
        "",
    ]
