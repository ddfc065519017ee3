"""``mirnet embed``, ``verify``, ``enroll`` and ``identify``: a user's recordings through one model,
its embeddings or its decisions about who is speaking."""

from __future__ import annotations

import numpy as np

from ..apps import VERIFY_CONDITIONS
from ..arguments import Size
from ..errors import InputError
from .common import (
    EMBEDDER_HELP,
    MODEL_HELP,
    check_inputs,
    check_output,
    plural,
    precision_option,
    print_result,
    typed,
)


def add_embed(sub) -> None:
    s = sub.add_parser("embed", help="one embedding per speaker of a mixture")
    s.add_argument("exp", help=MODEL_HELP)
    s.add_argument("audio", help="the recording (any rate and channel count: converted to 16 kHz mono)")
    s.add_argument("--speakers", type=typed(Size), help="refuse a model that gives another count")
    s.add_argument("--out", help="save the (N, D) embeddings as .npy")
    precision_option(s)
    s.add_argument(
        "--runtime",
        choices=("torch", "onnx"),
        default="torch",
        help="onnx: run the model's ONNX export (mirnet export EXP --format onnx) in ONNX Runtime, fp32",
    )
    s.set_defaults(func=_embed)


def _embed(a):
    import mirnet

    check_inputs(a.audio)
    check_output(a.out)
    model = mirnet.load(a.exp, a.precision, a.runtime)
    if a.speakers is not None and a.speakers != model.n_speakers:
        raise InputError(
            f"{a.exp}: this model gives {model.n_speakers} embeddings per mixture; "
            f"--speakers {a.speakers} needs a model trained for {a.speakers}"
        )
    emb = model.embed_file(a.audio).numpy()
    if a.out:
        np.save(a.out, emb)
    np.set_printoptions(precision=4, suppress=True, linewidth=120, threshold=20)
    # no similarity between the outputs: GE2E's embeddings share a large common part, so a raw
    # cosine reads as "same person" for two different talkers; mirnet verify decides, calibrated
    for i, e in enumerate(emb):
        print(f"speaker {i + 1}: {e}")


def _threshold_options(s, calibration_help: str) -> None:
    """verify's and identify's: where the decision's threshold comes from, and ``--json``."""
    t = s.add_mutually_exclusive_group()
    t.add_argument("--threshold", type=typed(float), help="accept scores (-distance) at or above this")
    t.add_argument("--calibration", metavar="EVAL.json", help=calibration_help)
    t.add_argument(
        "--uncalibrated",
        action="store_true",
        help="scores only: not the calibration a shipped model carries (used by default)",
    )
    s.add_argument("--json", action="store_true", help="print the result as JSON")


def _decision(a) -> dict:
    """verify's and identify's threshold options, as their functions take them."""
    return dict(threshold=a.threshold, calibration=a.calibration, calibrated=not a.uncalibrated)


def add_verify(sub) -> None:
    s = sub.add_parser("verify", help="do two recordings (mixtures or single voices) share a speaker?")
    s.add_argument("exp", help=EMBEDDER_HELP)
    s.add_argument("a", help="audio file A")
    s.add_argument("b", help="audio file B")
    s.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine", help="the score: -distance")
    s.add_argument(
        "--condition",
        choices=VERIFY_CONDITIONS,
        default="mixture",
        help="what A and B are: two mixtures, a mixture and one clean voice (enrolled), or two clean "
        "voices; picks the shipped calibration of that condition (default: %(default)s)",
    )
    _threshold_options(s, "decide at the EER threshold of this `mirnet eval EXP --json` result")
    s.set_defaults(func=_verify)


def _threshold_text(t: float | None, source: str | None, condition: str | None) -> str:
    if t is None:
        return "no threshold (give --threshold or --calibration)"
    return f"{t:.4f} ({source}{'' if condition is None else f', measured on {condition} trials'})"


def _verify(a):
    from ..apps.verification import verify

    check_inputs(a.a, a.b)
    v = verify(a.exp, a.a, a.b, condition=a.condition, metric=a.metric, **_decision(a))
    decision = {None: "-", True: "same speaker", False: "different speakers"}[v.accepted]
    print_result(
        a,
        {"a": a.a, "b": a.b, **v.to_dict()},
        [
            f"score: {v.score:.4f} (-{v.metric} distance; outputs {v.pair[0] + 1} of A and {v.pair[1] + 1} of B)",
            f"threshold: {_threshold_text(v.threshold, v.threshold_source, v.condition)}",
            f"decision: {decision}",
        ],
    )


def add_enroll(sub) -> None:
    s = sub.add_parser("enroll", help="add clean recordings of a named speaker to a gallery")
    s.add_argument("exp", help=EMBEDDER_HELP)
    s.add_argument("--gallery", required=True, help="the gallery folder (made if new)")
    s.add_argument("name", help="the speaker's name, as identify and diarize will print it")
    s.add_argument("files", nargs="+", metavar="FILE", help="clean recordings of that speaker alone")
    s.set_defaults(func=_enroll)


def _enroll(a):
    from ..apps.verification import enroll

    check_inputs(*a.files)
    g = enroll(a.exp, a.gallery, a.name, a.files)
    counts = {n: len(f) for n, f in g.files.items()}
    print(
        f"{a.gallery}: {a.name} enrolled from {plural(len(a.files), 'recording')}; "
        f"{plural(len(g.names), 'name')}: {counts}"
    )


def add_identify(sub) -> None:
    s = sub.add_parser("identify", help="which enrolled speakers are in a mixture")
    s.add_argument("exp", help="the embedder the gallery was enrolled with")
    s.add_argument("audio", help="the recording (a mixture or one voice)")
    s.add_argument("--gallery", required=True)
    _threshold_options(
        s, "below the EER threshold of this `mirnet eval EXP --condition enrolled --json` result: unknown"
    )
    s.set_defaults(func=_identify)


def _identify(a):
    from ..apps.verification import identify

    check_inputs(a.audio)
    matches = identify(a.exp, a.audio, a.gallery, **_decision(a))
    print_result(
        a,
        {"audio": a.audio, "gallery": a.gallery, "matches": [m.to_dict() for m in matches]},
        [f"speaker {m.output + 1}: {m.name} (score {m.score:.4f}, closest: {m.best})" for m in matches],
    )
