"""What a report is about, said once by its caller: a ``ReportPlan``, checked when it is built, so
that a plan the report cannot carry out is refused before anything is scored. A refusal is a
``PlanError`` naming the plan's fields, which a caller that took them under other names (the
command line, by its flags) words in those."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import InputError
from ...progress import Progress, bars
from .. import CONDITION_NAMES, TOP_K
from .systems import System, parse_systems

SWEEPS = {
    "sir": ("sir_db", (-5.0, 0.0, 5.0), "SIR of the first source (dB)"),
    "overlap": ("overlap", (0.25, 0.5, 1.0), "overlap ratio"),
    "crop": ("crop_seconds", (1.0, 2.0, 3.0, 5.0), "mixture length (s)"),
    "speakers": ("n_speakers", (2, 3), "speakers per mixture"),
}


class PlanError(InputError):
    """A plan the report cannot carry out, in one line. ``field`` is the field at fault; the text
    names it and any other field as ``{field}``, so that ``str`` names the plan's fields and
    ``worded(names)`` a caller's names for them (the CLI's flags)."""

    def __init__(self, field: str, text: str, **values: object):
        self.field, self._text, self._values = field, text, values
        super().__init__(self.worded({}))

    def worded(self, names: Mapping[str, str]) -> str:
        """The message with each field called as ``names`` calls it (by its own name if not)."""
        return self._text.format_map(_Names({**names, **self._values}))


class _Names(dict):
    def __missing__(self, key: str) -> str:
        return key


def parse_sweeps(specs: Sequence[str] | None) -> dict[str, tuple]:
    """``None`` -> the full grid; ``["sir=-5,5", "crop"]`` -> those axes (a bare name: its
    default values); ``[]`` -> no sweeps."""
    if specs is None:
        return {k: v[1] for k, v in SWEEPS.items()}
    out = {}
    for spec in specs:
        axis, _, values = spec.partition("=")
        if axis not in SWEEPS:
            raise PlanError(
                "sweeps",
                "{sweeps} {spec}: unknown axis {axis!r}; choose from {axes}",
                spec=spec,
                axis=axis,
                axes=", ".join(SWEEPS),
            )
        kind = type(SWEEPS[axis][1][0])
        try:
            out[axis] = tuple(kind(v) for v in values.split(",")) if values else SWEEPS[axis][1]
        except ValueError:
            raise PlanError(
                "sweeps",
                "{sweeps} {spec}: values must be {kind}s separated by commas",
                spec=spec,
                kind=kind.__name__,
            ) from None
    return out


@dataclass(frozen=True, kw_only=True)
class ReportPlan:
    """Everything ``write_report`` scores and writes to ``out``/REPORT.md:

    - headline: the first of ``systems`` (``[LABEL=]PATH``, the system the report is about) on
      ``trials`` trials of ``data`` (and of ``seen`` held-out utterances), mixture, and clean on
      ``clean_trials`` (default ``trials``; equal to ``compare_trials``, the unseen clean row is
      the comparison's own result, scored once);
    - all systems x ``conditions`` on one ``compare_trials`` list, with DET curves (default: every
      condition; ``cascade``, behind ``separator``, only when one is given);
    - all systems, mixture condition, along each of ``sweeps`` (``AXIS`` or ``AXIS=v1,v2`` of
      ``SWEEPS``; None: all at their values) on ``sweep_trials`` lists;
    - for each run in ``curves`` (``[LABEL=]RUN``), every epoch it kept, mixture condition on the
      comparison trials: EER against training time;
    - every separator in ``separators`` (``[LABEL=]PATH``) on the same ``separation_mixtures``
      mixtures (default 100) of ``data`` (and of ``seen``'s held-out utterances), with
      spectrograms and WAVs of the first mixtures; ``separation_pesq_stoi=False`` skips the two
      slow metrics;
    - with ``recorded`` (a split of recorded voices none of the systems trained on): every system,
      mixture and clean, raw and normalised, on ``recorded_trials`` trials (default
      ``compare_trials``) of it and of ``data``, and every separator on the separation mixtures of
      both;
    - each of ``sections``, called with ``out`` and each system's cohort by label (None without
      ``score_norm``): markdown lines of a section composed above this layer (the diarization
      section of ``apps.diarization_scoring.report_section``);
    - the paper's figures unless not ``paper_figures``, and ``train_run``'s training.

    ``score_norm`` (``SCORE_NORMS``) normalises every score against each system's own cohort,
    drawn from ``seen``'s utterances that the system did not hold out (``cache.Runner``).
    ``precision``: every mirnet system's embeddings, as ``mirnet.load``'s (``auto``, ``fp32``,
    ``bf16``); the separators, figures and peers run as they ship. ``command``: the command line
    the report says wrote it.

    Paths, given as text or Paths, are kept as text (``out`` as a Path), sequences as tuples; the
    specs as parsed are ``parsed_systems``, ``parsed_separators``, ``parsed_curves``, ``axes`` and
    ``scored_conditions``."""

    out: Path
    systems: Sequence[str]
    data: str
    seen: str | None = None
    trials: int = 1000
    compare_trials: int | None = None
    sweep_trials: int | None = None
    clean_trials: int | None = None
    conditions: Sequence[str] | None = None
    separator: str | None = None
    sweeps: Sequence[str] | None = None
    seed: int = 0
    metric: str = "cosine"
    score_norm: str | None = None
    top_k: int = TOP_K
    precision: str = "auto"
    train_run: str | None = None
    curves: Sequence[str] = ()
    paper_figures: bool = True
    separators: Sequence[str] = ()
    separation_mixtures: int | None = None
    separation_pesq_stoi: bool = True
    recorded: str | None = None
    recorded_trials: int | None = None
    sections: Sequence[Callable[[Path, dict], list[str]]] = ()
    command: str = ""
    progress: Progress = bars

    parsed_systems: tuple[System, ...] = field(init=False, repr=False, compare=False)
    parsed_separators: tuple[System, ...] = field(init=False, repr=False, compare=False)
    parsed_curves: tuple[System, ...] = field(init=False, repr=False, compare=False)
    axes: dict[str, tuple] = field(init=False, repr=False, compare=False)
    scored_conditions: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        def put(key, value):
            object.__setattr__(self, key, value)

        put("out", Path(self.out))
        for key in ("data", "seen", "separator", "train_run", "recorded"):
            value = getattr(self, key)
            put(key, None if value is None else str(value))
        for key in ("systems", "conditions", "sweeps", "curves", "separators", "sections"):
            value = getattr(self, key)
            put(key, None if value is None else tuple(value))
        put("parsed_systems", tuple(parse_systems(self.systems)))
        put("axes", parse_sweeps(self.sweeps))
        conditions = self.conditions
        if conditions is None:
            conditions = tuple(c for c in CONDITION_NAMES if c != "cascade" or self.separator is not None)
        put("scored_conditions", conditions)
        self._check()
        put(
            "parsed_separators", tuple(parse_systems(self.separators, "separator")) if self.separators else ()
        )
        put("parsed_curves", tuple(parse_systems(self.curves)) if self.curves else ())

    def _check(self) -> None:
        """The combinations of fields the report cannot score."""
        bad = [c for c in self.scored_conditions if c not in CONDITION_NAMES]
        if bad:
            raise PlanError(
                "conditions",
                "{conditions}: unknown condition(s) {bad}; choose from {known}",
                bad=", ".join(bad),
                known=", ".join(CONDITION_NAMES),
            )
        if ("cascade" in self.scored_conditions) != (self.separator is not None):
            raise PlanError("separator", "{separator}: the cascade condition needs one, and only it uses one")
        if self.score_norm is not None and self.separator is not None:
            raise PlanError(
                "score_norm",
                "{score_norm}: a cascade has no cohort of its own; join the pair with mirnet compose",
            )
        if self.recorded_trials is not None and self.recorded is None:
            raise PlanError(
                "recorded_trials",
                "{recorded_trials}: the trials of the {recorded} section; give {recorded} too",
            )
        if self.score_norm is not None and self.seen is None:
            raise PlanError(
                "score_norm",
                "{score_norm} needs {seen}: each system's cohort is drawn from the training voices",
            )
