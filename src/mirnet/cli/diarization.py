"""``mirnet diarize`` and ``eval-diarization``: who spoke when, and how well; the two share their
settings' options and how a shipped calibration, a tuning run and a cohort combine."""

from __future__ import annotations

import argparse
import json

from ..arguments import Positive, Ratio, Size
from ..atomic import write_text
from ..errors import InputError
from .common import EMBEDDER_HELP, check_inputs, check_output, plural, print_result, progress_of, typed


def _diarization_options(s) -> None:
    s.add_argument("--window", type=typed(Positive), help="seconds per window (default 3)")
    s.add_argument("--hop", type=typed(Positive), help="seconds between windows (default 1.5)")
    s.add_argument(
        "--same-threshold",
        type=typed(float),
        help="cosine similarity above which a window's outputs are one talker",
    )
    s.add_argument(
        "--neighbours",
        type=typed(Ratio),
        help="share of the identities each is linked to in the affinity",
    )
    s.add_argument(
        "--calibration",
        metavar="TUNED.json",
        help="settings of `mirnet eval-diarization --tune` (seen voices), and the cohort they were tuned with",
    )
    s.add_argument(
        "--cohort",
        metavar="C.npz",
        help="centre each identity on this cohort of the same model (mirnet cohort) before merging "
        "and clustering",
    )
    s.add_argument(
        "--uncalibrated",
        action="store_true",
        help="the defaults above, no cohort: not the tuned settings and cohort a shipped model carries",
    )
    s.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bar")


def _diarization_settings(a, fingerprint: str, exp):
    from ..apps.diarization import diarization_settings

    given = {k: getattr(a, k) for k in ("window", "hop", "same_threshold", "neighbours")}
    # tuning chooses the settings itself: a shipped calibration applies to the other runs only
    tuning = getattr(a, "tune", False) or getattr(a, "tune_on", None)
    return diarization_settings(
        exp, fingerprint, a.calibration, a.cohort, given, not (a.uncalibrated or tuning)
    )


def add_diarize(sub) -> None:
    s = sub.add_parser(
        "diarize", help="who spoke when (overlaps included) in a recording of any length -> RTTM"
    )
    s.add_argument("exp", help=f"{EMBEDDER_HELP}, or resemblyzer")
    s.add_argument("audio", help="the recording, of any length")
    s.add_argument("--out", required=True, help="the RTTM to write")
    s.add_argument(
        "--num-speakers",
        "--speakers",
        dest="speakers",
        type=typed(Size),
        help="the number of speakers, if known",
    )
    s.add_argument("--min-speakers", type=typed(Size), help="at least this many speakers")
    s.add_argument("--max-speakers", type=typed(Size), help="at most this many speakers")
    s.add_argument("--json", action="store_true", help="also print the timeline as JSON")
    s.add_argument(
        "--gallery",
        help="name each speaker from this gallery (mirnet enroll) where identify would, in the RTTM too",
    )
    _diarization_options(s)
    s.set_defaults(func=_diarize)


def _diarize(a):
    from ..apps.diarization import diarize, load_diarizer
    from ..eval.evaluate import system_fingerprint

    check_inputs(a.audio)
    check_output(a.out)
    settings, cohort = _diarization_settings(a, system_fingerprint(a.exp), a.exp)
    embed = load_diarizer(a.exp, cohort)
    result = diarize(
        embed,
        a.audio,
        settings,
        speakers=a.speakers,
        max_speakers=a.max_speakers,
        min_speakers=a.min_speakers,
        progress=progress_of(a),
    )
    named = {}
    if a.gallery:
        import mirnet

        from ..apps.verification import UNKNOWN, Gallery, name_speakers, resolve_threshold

        embedder = mirnet.load(a.exp)
        gallery = Gallery.open(a.gallery, embedder.fingerprint, embedder.embed_dim)
        limit = resolve_threshold(None, None, embedder, condition="enrolled", calibrated=not a.uncalibrated)
        matches = name_speakers(embedder, a.audio, result, gallery, limit)
        named = {k: m.name for k, m in matches.items() if m.name != UNKNOWN}
        result = result.renamed(named)
    result.write(a.out)
    print_result(
        a,
        {"rttm": a.out, "cohort": cohort, "gallery_names": named, **result.to_dict()},
        [
            f"{a.out}: {plural(result.speakers, 'speaker')}, {plural(len(result.turns), 'turn')} "
            f"in {result.seconds:.1f} s"
        ],
    )


def add_eval_diarization(sub) -> None:
    s = sub.add_parser(
        "eval-diarization", help="DER, JER, overlap DER and speaker-count accuracy on conversations"
    )
    s.add_argument(
        "exp", nargs="+", help="systems scored side by side: experiment dirs or model files, resemblyzer"
    )
    s.add_argument("--data", required=True, help="a folder of mirnet corpus conversation")
    tuning = s.add_mutually_exclusive_group()
    tuning.add_argument(
        "--tune", action="store_true", help="choose the settings of lowest DER on these files (seen voices)"
    )
    tuning.add_argument(
        "--tune-on",
        metavar="SEEN",
        help="choose each system's settings on these conversations (seen voices) first",
    )
    s.add_argument("--collar", type=typed(float), default=0.25, help="seconds forgiven around each boundary")
    s.add_argument("--json", help="write the result (with a row per file) here")
    _diarization_options(s)
    s.set_defaults(func=_eval_diarization)


def _eval_diarization(a):
    from ..apps.diarization_scoring import evaluate_system, table
    from ..eval.evaluate import system_fingerprint

    check_output(a.json)

    for option in ("calibration", "cohort"):
        if getattr(a, option) and len(a.exp) > 1:
            raise InputError(f"--{option} is one model's: give one system with it")
    fingerprints = {exp: system_fingerprint(exp) for exp in a.exp}
    results = []
    for exp in a.exp:
        settings, cohort = _diarization_settings(a, fingerprints[exp], exp)
        results.append(
            evaluate_system(
                exp,
                a.data,
                settings,
                tune_on=a.tune_on,
                tune_here=a.tune,
                collar=a.collar,
                progress=progress_of(a),
                system=fingerprints[exp],
                cohort=cohort,
            )
        )
    if a.json:
        write_text(
            a.json, json.dumps(results[0] if len(results) == 1 else {"systems": results}, indent=1) + "\n"
        )
    for r in results:
        s = r["settings"]
        print(
            f"{r['model']}: {r['files']} files of {a.data}, same_threshold={s['same_threshold']} "
            f"neighbours={s['neighbours']} fill_gap={s['fill_gap']} min_fit={s['min_fit']}, "
            f"{r['x_real_time_cpu']}x real time (CPU)"
        )
    print(table(results))
