"""`mirnet report`: every system scored side by side on the same trial lists, in one run, and
written up as REPORT.md with the command behind each number.

The report is a plan of evaluations (``plan.ReportPlan``), written up section by section
(``sections``): a *setting* (corpus, trial count, SIR, overlap, crop, speakers, seed) fixes one
trial list that every system and condition under it is scored on.
Results (JSON) and trial scores (``.npz``) are cached under ``OUT/evals`` and reused only when
the system file and the trial list are unchanged, so an interrupted report resumes where it
stopped and adding a system re-scores nothing else. Separators are scored the same way, on
mixtures drawn once per *separation setting*, cached under ``OUT/evals/separation``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from ...atomic import write_text
from ..setting import MixtureSetting, TrialSetting
from ..trials import trial_list_sha1
from .cache import Runner
from .markdown import cohort_command, eval_command, system_rows, table, versions
from .plan import ReportPlan
from .recorded_section import Recorded
from .sections import (
    Comparison,
    Composed,
    Context,
    Curves,
    Headline,
    PaperFigures,
    Printed,
    Section,
    ShortRun,
    Sweeps,
)
from .separation_section import SEPARATION_MIXTURES, Separation


def write_report(plan: ReportPlan) -> Path:
    """Score what ``plan`` says and write ``OUT/REPORT.md``; its path."""
    out, systems = plan.out, plan.parsed_systems
    (out / "figures").mkdir(parents=True, exist_ok=True)
    ctx = Context(Runner(plan))
    base = TrialSetting(plan.data, plan.trials, plan.seed)
    compare = replace(base, trials=plan.compare_trials or plan.trials)
    mixtures = MixtureSetting(plan.data, plan.separation_mixtures or SEPARATION_MIXTURES, plan.seed)
    headline = Headline(systems[0], base, plan.seen, plan.clean_trials or plan.trials)
    comparison = Comparison(systems, compare, plan.scored_conditions)
    sweeps = Sweeps(systems, replace(base, trials=plan.sweep_trials or plan.trials), plan.axes)
    curves = Curves(plan.parsed_curves, compare)
    pesq_stoi, progress = plan.separation_pesq_stoi, plan.progress
    separation = Separation(plan.parsed_separators, mixtures, plan.seen, pesq_stoi, progress)
    on_recorded = replace(compare, trials=plan.recorded_trials or compare.trials)  # of data, then recorded
    recorded = Recorded(
        systems, on_recorded, plan.recorded, plan.parsed_separators, mixtures, pesq_stoi, progress
    )
    paper = [PaperFigures(systems, plan.data, plan.seed)] if plan.paper_figures else []
    short_run = ShortRun(plan.train_run)
    composed = [Composed(lines, systems) for lines in plan.sections]

    recorded.check(ctx)  # a wrong folder is refused now, not after hours of scoring
    # scored in this order: the separators first, so that a wrong file is refused, and their
    # scores computed, before hours of embedding; the recorded voices right after the
    # comparison, whose embeddings are still in memory
    scored = [separation, headline, comparison, recorded, sweeps, curves, *paper, short_run, *composed]
    printed: dict[Section, Printed] = {section: section.render(ctx) for section in scored}
    body = [
        printed[s] for s in [headline, comparison, sweeps, curves, separation, recorded, *paper, *composed]
    ]
    figures = [f for part in [*body, printed[short_run]] for f in part.figures]

    lines = [
        f"# mirnet report: {', '.join(s.label for s in systems)}",
        "",
        f"Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `{plan.command or 'mirnet report'}`.",
        "",
        "Protocol (paper section 4.1.2): anchor A+B, positive A'+C, negative C'+D; distance = min over output "
        f"pairs ({plan.metric}); one target and one non-target score per trial. Cells: **EER %** (95% bootstrap "
        "interval, 1000 stratified resamples) / minDCF (p_target 0.01). Every system in a table was scored on "
        "the same trial list (checksums below).",
        "",
        *_normalisation(ctx.run, plan.seen),
        "## Systems",
        "",
        *table(["label", "system", "outputs", "trained", "commit"], system_rows(systems, ctx.run)),
        "",
        *[line for part in body for line in part.lines],
        "## Figures",
        "",
    ]
    for caption, path in figures:
        lines += [f"**{caption}**", "", f"![{path.stem}]({path.resolve().relative_to(out.resolve())})", ""]
    lines += [*printed[short_run].lines, *_provenance(ctx, systems)]
    path = out / "REPORT.md"
    write_text(path, "\n".join(lines))
    return path


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


def _provenance(ctx: Context, systems) -> list[str]:
    """Every trial list with its checksum, every number's command, and the versions."""
    return [
        "## Trial lists",
        "",
        *table(
            ["setting", "file", "SHA-1", "trials", "seed"],
            [
                [
                    name,
                    f"`{ctx.run.trial_list(s)}`",
                    f"`{trial_list_sha1(ctx.run.trial_list(s))[:12]}`",
                    str(s.trials),
                    str(s.seed),
                ]
                for name, s in ctx.used.items()
            ],
        ),
        "",
        "## Commands",
        "",
        "Every number above, re-run alone (the trial list is re-read, so the seed "
        "and mixing options are those it was drawn with):",
        "",
        "```",
        *dict.fromkeys(cohort_command(r, ctx.run.cohort_setting) for r in ctx.results if r.get("score_norm")),
        *dict.fromkeys(eval_command(r) for r in ctx.results),
        "```",
        "",
        "## Environment",
        "",
        f"- {versions(systems)}.",
        "",
    ]
