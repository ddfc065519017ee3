"""``mirnet separate`` and ``compose``: a mixture's tracks from a separator, and a separator made
one mixture embedder with a single-speaker one (the cascade)."""

from __future__ import annotations

from pathlib import Path

from ..arguments import Size
from .common import SEPARATOR_HELP, check_inputs, progress_of, typed


def add_separate(sub) -> None:
    s = sub.add_parser("separate", help="one WAV per speaker of a mixture, and a JSON naming whose each is")
    s.add_argument("exp", help=SEPARATOR_HELP)
    s.add_argument("audio")
    s.add_argument("--out", required=True, help="directory for AUDIO-stem.speakerK.wav and AUDIO-stem.json")
    s.add_argument(
        "--enroll",
        nargs="+",
        metavar="WAV",
        help="a clean recording of each target (separators conditioned on enrolled references)",
    )
    s.add_argument(
        "--sample-rate",
        type=typed(Size),
        help="of the written tracks (default: the input's own rate; the models run at 16 kHz)",
    )
    s.set_defaults(func=_separate)


def _separate(a):
    import mirnet

    from ..audio import read_header

    check_inputs(a.audio, *(a.enroll or []))
    rate = a.sample_rate or read_header(a.audio).sample_rate  # the input's, as Asteroid writes them
    sep = mirnet.load_separator(a.exp)
    meta = sep.write_tracks(a.audio, a.out, rate, enrollment=a.enroll, progress=progress_of(a))
    for o in meta["outputs"]:
        print(Path(a.out) / o["file"])


def add_compose(sub) -> None:
    s = sub.add_parser(
        "compose", help="one mixture embedder from a separator and a single-speaker embedder (the cascade)"
    )
    s.add_argument("separator", help="a speaker-independent separator: experiment dir or model file")
    s.add_argument("embedder", help="a single-embedding embedder: experiment dir, model file, or resemblyzer")
    s.add_argument("--out", required=True, help="the experiment dir to write (OUT/model.pt)")
    s.add_argument(
        "--link",
        action="store_true",
        help="write no weights: name the parts' model files relative to OUT (a few KB; loads while they are unchanged)",
    )
    s.set_defaults(func=_compose)


def _compose(a):
    from ..checkpoint import compose_models

    print(compose_models(a.separator, a.embedder, a.out, link=a.link))
