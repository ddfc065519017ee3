"""`mirnet eval-diarization`: a system diarizes every conversation of a folder that
``mirnet corpus conversation`` made, and pyannote.metrics (the field's scorer) compares each
timeline with its RTTM: DER and JER with their parts (missed speech, false alarm, confusion),
DER on the overlapped and on the single-talker regions apart, and how often the speaker count was
right. Overlap is where a system of N identities per window should beat one of a single identity.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from pyannote.core import Annotation, Segment, Timeline
from pyannote.database.util import load_rttm
from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

from ..atomic import write_text
from ..errors import CorpusError
from ..eval.evaluate import system_fingerprint
from ..progress import Progress, silent
from .conversation import INDEX, Turn
from .diarization import DiarizationSettings, EmbedFn, WindowOutputs, assemble, embed_windows, load_diarizer


def annotation(uri: str, turns: list[Turn]) -> Annotation:
    a = Annotation(uri=uri)
    for i, t in enumerate(turns):
        a[Segment(t.start, t.end), i] = t.speaker
    return a


def read_conversations(data: str | Path) -> list[dict]:
    index = Path(data) / INDEX
    if not index.exists():
        raise CorpusError(f"{data}: no {INDEX} (make conversations with mirnet corpus conversation)")
    return [json.loads(line) for line in index.read_text().splitlines() if line.strip()]


def embed_conversations(
    embed: EmbedFn, data: str | Path, settings: DiarizationSettings | None = None, progress: Progress = silent
) -> tuple[list[tuple[WindowOutputs, Annotation]], float]:
    """Every conversation's window outputs with its reference, and the CPU seconds embedding took."""
    data = Path(data)
    out, cpu = [], 0.0
    for row in read_conversations(data):
        reference = load_rttm(data / row["rttm"])[row["uri"]]
        start = time.process_time()
        out.append((embed_windows(embed, data / row["wav"], settings, progress), reference))
        cpu += time.process_time() - start
    return out, cpu


def score(
    conversations: list[tuple[WindowOutputs, Annotation]],
    settings: DiarizationSettings | None = None,
    *,
    oracle_count: bool = False,
    collar: float = 0.25,
) -> dict:
    """Assemble each conversation's timeline under ``settings`` and score it against its reference."""
    metrics = {k: DiarizationErrorRate(collar=collar) for k in ("all", "overlap", "single")}
    jer = JaccardErrorRate(collar=collar)
    files, right = [], 0
    for windows, reference in conversations:
        n_ref = len(reference.labels())
        result = assemble(windows, settings, speakers=n_ref if oracle_count else None)
        hypothesis = annotation(windows.uri, result.turns)
        extent = Timeline([Segment(0, windows.seconds)])
        overlap = reference.get_overlap()
        der = metrics["all"](reference, hypothesis, uem=extent)
        metrics["overlap"](reference, hypothesis, uem=overlap)
        metrics["single"](reference, hypothesis, uem=extent.extrude(overlap))
        jer(reference, hypothesis, uem=extent)
        right += result.speakers == n_ref
        files.append({"uri": windows.uri, "speakers": n_ref, "found": result.speakers, "der": 100 * der})
    detail = metrics["all"][:]  # accumulated components, in seconds

    def share(key: str) -> float:
        return 100 * detail[key] / detail["total"]

    return {
        "der": 100 * abs(metrics["all"]),
        "missed": share("missed detection"),
        "false_alarm": share("false alarm"),
        "confusion": share("confusion"),
        "jer": 100 * abs(jer),
        "der_overlap": 100 * abs(metrics["overlap"]),
        "der_single": 100 * abs(metrics["single"]),
        "count_accuracy": 100 * right / len(files),
        "files": files,
        "collar": collar,
        "oracle_count": oracle_count,
    }


# the grid `tune` searches: a window's outputs merged at cosine similarity SAME (1.01: never), each
# identity linked to its NEIGHBOURS share in the affinity, talkers' pauses shorter than FILL seconds
# filled, a window's further identities fitting their cluster worse than FIT dropped, a separated
# stream active where it holds STREAM_FLOOR dB of the mixture's energy (systems with streams only)
GRID = {
    "same_threshold": (0.3, 0.4, 0.5, 0.7, 0.9, 1.01),
    "neighbours": (0.1, 0.2, 0.3),
    "fill_gap": (0.3, 0.6),
    "min_fit": (0.0, 0.7, 0.8),
    "stream_floor_db": (-3.0, -6.0, -10.0),
}


def tune(
    conversations: list[tuple[WindowOutputs, Annotation]], settings: DiarizationSettings, collar: float = 0.25
) -> tuple[DiarizationSettings, list[dict]]:
    """The settings of lowest DER with the speaker count estimated, over ``GRID`` (on seen voices,
    so that unseen ones are scored at settings chosen without them); and every point tried. A
    system of one output per window has nothing to merge or drop, and skips those axes; one without
    streams skips the streams' floor."""
    multi = any(w.outputs and len(w.outputs[0]) > 1 for w, _ in conversations)
    streams = any(w.shares for w, _ in conversations)
    searched = {"neighbours", "fill_gap"} | ({"same_threshold", "min_fit"} if multi else set())
    searched |= {"stream_floor_db"} if streams else set()
    axes = {k: v if k in searched else (getattr(settings, k),) for k, v in GRID.items()}
    tried = []
    for point in itertools.product(*axes.values()):
        s = replace(settings, **dict(zip(axes, point)))
        r = score(conversations, s, collar=collar)
        tried.append({**dict(zip(axes, point)), "der": r["der"], "count_accuracy": r["count_accuracy"]})
    best = min(tried, key=lambda t: (t["der"], -t["count_accuracy"]))
    return replace(settings, **{k: best[k] for k in axes}), tried


def evaluate_system(
    exp: str,
    data: str | Path,
    settings: DiarizationSettings,
    *,
    tune_on: str | Path | None = None,
    tune_here: bool = False,
    collar: float = 0.25,
    progress: Progress = silent,
    system: str | None = None,
    cohort: str | Path | None = None,
) -> dict:
    """One system on the conversations of ``data``: its settings tuned first on the conversations of
    ``tune_on`` (seen voices), or on ``data`` itself (``tune_here``), else ``settings`` as given;
    scored with the speaker count estimated and with the oracle count. ``system`` is its
    fingerprint when the caller already has it (as in ``eval.evaluate``); ``cohort`` as
    ``load_diarizer``'s, recorded so that ``mirnet diarize --calibration`` centres the same way."""
    embed = load_diarizer(exp, cohort)
    tried = None
    if tune_on is not None:
        seen, _ = embed_conversations(embed, tune_on, settings, progress)
        settings, tried = tune(seen, settings, collar)
    conversations, cpu = embed_conversations(embed, data, settings, progress)
    if tune_here:
        settings, tried = tune(conversations, settings, collar)
    audio = sum(w.seconds for w, _ in conversations)
    return {
        "model": str(exp),
        "system": system or system_fingerprint(exp),
        "data": str(data),
        "tuned_on": str(tune_on or (data if tune_here else "")) or None,
        "settings": asdict(settings),
        "cohort": None if cohort is None else str(cohort),
        "files": len(conversations),
        "x_real_time_cpu": round(audio / cpu, 1),
        "estimated_count": score(conversations, settings, collar=collar),
        "oracle_count": score(conversations, settings, oracle_count=True, collar=collar),
        **({"tuned": tried} if tried else {}),
    }


COLUMNS = ("der", "missed", "false_alarm", "confusion", "jer", "der_overlap", "der_single", "count_accuracy")


def table(results: list[dict]) -> str:
    """Systems side by side, a row per system and speaker-count mode, in %."""
    lines = [f"{'system':<28} {'count':<9} " + " ".join(f"{c:>14}" for c in COLUMNS)]
    for r in results:
        for mode, label in (("estimated_count", "estimated"), ("oracle_count", "oracle")):
            lines.append(f"{r['model']:<28} {label:<9} " + " ".join(f"{r[mode][c]:14.2f}" for c in COLUMNS))
    return "\n".join(lines)


SECTION_COLUMNS = (
    ("der", "DER"),
    ("der_overlap", "DER, overlap"),
    ("der_single", "DER, one talker"),
    ("missed", "missed"),
    ("false_alarm", "false alarm"),
    ("confusion", "confusion"),
    ("jer", "JER"),
    ("count_accuracy", "count right"),
)


def report_section(
    out: str | Path,
    systems: list[tuple[str, str]],
    data: str | Path,
    tune_on: str | Path | None = None,
    collar: float = 0.25,
    progress: Progress = silent,
    cohorts: dict[str, Path | None] | None = None,
) -> list[str]:
    """``mirnet report``'s diarization section: every (label, system) on the conversations of
    ``data``, settings tuned on ``tune_on`` (seen voices) when given, identities centred on
    ``cohorts[label]`` when the report has one (``load_diarizer``), each result kept as
    ``OUT/diarization/LABEL.json``; the section's markdown lines."""
    cohorts = cohorts or {}
    results = []
    for label, exp in systems:
        r = evaluate_system(
            exp,
            data,
            DiarizationSettings(),
            tune_on=tune_on,
            collar=collar,
            progress=progress,
            cohort=cohorts.get(label),
        )
        path = Path(out) / "diarization" / f"{label}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(r, indent=1) + "\n")
        results.append((label, r))
    files = results[0][1]["files"] if results else 0
    tuned = f", settings tuned on `{tune_on}`" if tune_on else ", default settings"
    options = [f"--data {data}"] + ([f"--tune-on {tune_on}"] if tune_on else [])
    if any(cohorts.values()):  # a cohort is one system's: a command per system
        commands = [
            " ".join(["mirnet eval-diarization", exp, *options, f"--cohort {cohorts[label]}"])
            for label, exp in systems
        ]
        how = "identities centred on each system's cohort (the report's); the same rows: " + "; ".join(
            f"`{c}`" for c in commands
        )
    else:
        how = (
            "the same table: `"
            + " ".join(["mirnet eval-diarization", *(exp for _, exp in systems), *options])
            + "`"
        )
    lines = [
        f"## Diarization: who spoke when ({files} conversations of `{data}`{tuned})",
        "",
        f"pyannote.metrics, collar {collar:g} s, in %; the speaker count estimated, then given (oracle); {how}.",
        "",
        "| system | count | " + " | ".join(name for _, name in SECTION_COLUMNS) + " | x real time (CPU) |",
        "|---" * (len(SECTION_COLUMNS) + 3) + "|",
    ]
    for label, r in results:
        for mode, name in (("estimated_count", "estimated"), ("oracle_count", "oracle")):
            cells = " | ".join(f"{r[mode][key]:.1f}" for key, _ in SECTION_COLUMNS)
            lines.append(f"| {label} | {name} | {cells} | {r['x_real_time_cpu']:g} |")
    return [*lines, ""]
