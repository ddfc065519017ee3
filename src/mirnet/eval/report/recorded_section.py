"""The report's recorded-voices section (issue 37): every system's mixture and clean EER on a
split of recorded people's voices that none of the systems trained on (``mirnet corpus
recorded``'s ``unseen/``), raw and normalised as the report normalises, beside the same systems
on the report's own unseen split; and every separator on mixtures of both.

Everything is scored through the report's runners, so trial lists, results, cohorts and
embeddings are drawn, cached and reused as the rest of the report's. The split's files carry
the tag ``cache.TAG``: its folder is usually called as the report's (``data/recorded/unseen``
beside ``data/corpus/unseen``), and a setting's files are named after the folder alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ...atomic import write_text
from ...progress import Progress, bars
from ..setting import MixtureSetting, TrialSetting
from ..trials import make_trials
from .cache import TAG, SeparationRunner
from .markdown import CONDITION_TEXT, _ratio, cell, describe, separation_command, table
from .plan import PlanError
from .sections import Context, Printed
from .separation_section import SEPARATION_COLUMNS, separation_cells
from .systems import System

CONDITIONS = ("mixture", "clean")
NORM_TEXT = {"asnorm": "AS-norm", "mean": "cohort mean removed"}
SUMMARY = "recorded.json"  # every figure of the section, beside REPORT.md


@dataclass(frozen=True, eq=False)
class Recorded:
    """Every system, mixture and clean, on ``setting``'s trials of the report's unseen split and the
    same trials drawn from ``split``: raw, and normalised as the report's runner normalises; every
    separator on ``separation``'s mixtures of both. The first system's results also as
    ``OUT/eval_recorded[_clean].json``, every figure in ``OUT/recorded.json``. No split, no
    section."""

    systems: Sequence[System]
    setting: TrialSetting
    split: str | None
    separators: Sequence[System] = ()
    separation: MixtureSetting | None = None
    pesq_stoi: bool = True
    progress: Progress = bars

    def check(self, ctx: Context) -> None:
        """Refuse, in one line and before anything is scored, a split the section cannot score:
        not a folder, the report's own data, a whole corpus (``seen/`` and ``unseen/``: the seen
        voices are the systems' training voices), no audio, or too few speakers for the trials
        (drawn as the trials will be)."""
        if self.split is None:
            return
        split, path = self.split, Path(self.split)
        if not path.is_dir():
            raise PlanError("recorded", "{recorded} {split}: not a directory", split=split)
        if path.resolve() == Path(self.setting.data).resolve():
            raise PlanError(
                "recorded",
                "{recorded} {split}: the report's {data} itself; give the recorded voices",
                split=split,
            )
        subsets = [name for name in ("seen", "unseen") if (path / name).is_dir()]
        if subsets:
            raise PlanError(
                "recorded",
                "{recorded} {split}: a whole corpus ({subsets}), not one split; "
                "give {one}, voices none of the systems trained on",
                split=split,
                subsets=" and ".join(f"{s}/" for s in subsets),
                one=path / subsets[-1],
            )
        make_trials(ctx.run.corpus(split), 1, self.setting.mixing(), self.setting.seed)  # too few speakers

    def render(self, ctx: Context) -> Printed:
        if self.split is None:
            return Printed([])
        norm = ctx.run.score_norm
        ways = ["raw", *([norm] if norm else [])]
        base, split = self.setting, self.split
        splits = {"synthesized": base, "recorded": replace(base, data=split)}
        results: dict[str, dict] = {}
        for s in self.systems:
            results[s.label] = {}
            for where, setting in splits.items():
                results[s.label][where] = {
                    c: {way: ctx.score(s, setting, c, raw=way == "raw") for way in reversed(ways)}
                    for c in CONDITIONS
                }
        primary = self.systems[0].label
        for c in CONDITIONS:
            r = results[primary]["recorded"][c][ways[-1]]
            write_text(
                ctx.out / f"eval_{TAG}{'' if c == 'mixture' else '_' + c}.json",
                json.dumps(r, indent=1) + "\n",
            )

        sep_results = self._separation(ctx.out) if self.separators else {}
        write_text(
            ctx.out / SUMMARY,
            json.dumps(
                {
                    "recorded": split,
                    "data": base.data,
                    "trials": base.trials,
                    "score_norm": norm,
                    "systems": results,
                    "separation": sep_results,
                },
                indent=1,
            )
            + "\n",
        )

        corpus = ctx.run.corpus(split)
        voices = {"synthesized": f"`{base.data}`", "recorded": f"`{split}` (recorded)"}
        named = {"raw": "raw", **({norm: NORM_TEXT[norm]} if norm else {})}
        how = "raw cosine" + (
            f", and {NORM_TEXT[norm]} against each system's own cohort (the report's, above)" if norm else ""
        )
        rows = [
            [
                s.label,
                f"{voices[where]}, {results[s.label][where]['mixture'][ways[0]]['speakers']} speakers",
                *[cell(results[s.label][where][c][way]) for c in CONDITIONS for way in ways],
            ]
            for s in self.systems
            for where in splits
        ]
        lines = [
            f"## Recorded voices ({Path(split).name})",
            "",
            f"`{split}`: {len(corpus.speakers)} recorded speakers ({len(corpus)} utterances) that none of the "
            f"systems trained on, beside the report's `{base.data}`. Every system on the same {base.trials} "
            f"trials of each ({describe(base)}; seed {base.seed}): {CONDITION_TEXT['mixture']}, and "
            f"{CONDITION_TEXT['clean']}; {how}. "
            f"Cells: **EER %** (95% CI) / minDCF. Every figure: `{SUMMARY}`; {primary}'s as "
            f"`eval_{TAG}.json` and `eval_{TAG}_clean.json`.",
            "",
            *table(
                ["system", "voices", *[f"{c}, {named[way]}" for c in CONDITIONS for way in ways]],
                rows,
            ),
            "",
            *_ratios(self.systems, results, ways[-1]),
        ]
        if sep_results:
            lines += _separation_lines(sep_results, self.separation, voices)
        return Printed(lines)

    def _separation(self, out: Path) -> dict[str, dict]:
        """Every separator on the same mixtures of the report's unseen split (the separation
        section's, cached) and of the recorded split."""
        run = SeparationRunner(out, self.pesq_stoi, self.progress, tags={self.split: TAG})
        settings = {"synthesized": self.separation, "recorded": replace(self.separation, data=self.split)}
        return {s.label: {where: run.result(s, m) for where, m in settings.items()} for s in self.separators}


def _ratios(systems: Sequence[System], results: dict, way: str) -> list[str]:
    """The issue's targets on the recorded voices: the first system's EERs over resemblyzer's."""
    primary, peer = systems[0], next((s for s in systems if s.path == "resemblyzer"), None)
    if peer is None or peer == primary:
        return []
    lines = []
    for c in CONDITIONS:
        mine, theirs = (results[s.label]["recorded"][c][way]["eer"] for s in (primary, peer))
        lines.append(
            f"- recorded voices, {c} EER ({way}): {primary.label} / {peer.label} = {mine:.1f} / {theirs:.1f} "
            f"= **{_ratio(mine, theirs):.2f}**."
        )
    return [*lines, ""]


def _separation_lines(results: dict[str, dict], setting: MixtureSetting, voices: dict[str, str]) -> list[str]:
    rows = [
        [label, r[where]["mode"], voices[where], *separation_cells(r[where])]
        for label, r in results.items()
        for where in voices
    ]
    return [
        f"### Separation of recorded voices ({setting.n} mixtures of each split)",
        "",
        f"Every separator heard the very same {setting.n} mixtures of each split, drawn as in the separation "
        f"section ({describe(setting)}; mixture i from rng ({setting.seed}, i)); cells as there.",
        "",
        *table(["separator", "mode", "voices", *[c for _, c, _ in SEPARATION_COLUMNS]], rows),
        "",
        "```",
        *[separation_command(r["recorded"]) for r in results.values()],
        "```",
        "",
    ]
