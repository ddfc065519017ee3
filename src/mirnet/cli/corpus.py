"""``mirnet corpus ...`` and ``mirnet prepare ...``: the commands that make or read corpora."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..arguments import Positive, Ratio, Seed, Size
from ..atomic import write_text
from .common import progress_of, typed


def _names(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def _add_synth(corpus) -> None:
    s = corpus.add_parser("synth", help="synthesize the default corpus (espeak-ng + MBROLA, flite)")
    s.add_argument("out")
    s.add_argument("--speakers", type=int)
    s.add_argument("--utterances", type=int, default=40, help="per voice")
    s.add_argument("--seed", type=typed(Seed), default=0, help="random seed")
    s.add_argument("--voices", nargs="+", help="only these voices, e.g. us1 us2 slt")
    s.add_argument(
        "--unseen-fraction", type=float, default=0.2, help="0: every speaker seen (extra training voices)"
    )
    s.add_argument(
        "--engines",
        type=_names,
        help="comma-separated, of flite, mbrola, espeak (espeak-ng's formant variants; default: flite,mbrola)",
    )
    s.add_argument("--jobs", type=int)
    s.set_defaults(func=_corpus_synth)


def _corpus_synth(a):
    from ..corpus.synth import synthesize_corpus
    from ..corpus.voices import DEFAULT_ENGINES

    print(
        synthesize_corpus(
            a.out,
            voices=a.voices,
            speakers=a.speakers,
            utterances=a.utterances,
            seed=a.seed,
            unseen_fraction=a.unseen_fraction,
            jobs=a.jobs,
            progress=progress_of(a),
            engines=DEFAULT_ENGINES if a.engines is None else a.engines,
        )
    )


def _package_root(text: str) -> tuple[str, str]:
    """``PACKAGE=PATH`` -> (package, path)."""
    package, sep, path = text.partition("=")
    if not sep or not package or not path:
        raise argparse.ArgumentTypeError(f"expected PACKAGE=PATH (e.g. uqm-voice=/mnt/uqm), got {text!r}")
    return package, path


def _add_recorded(corpus) -> None:
    s = corpus.add_parser(
        "recorded",
        help="recorded human voices from Debian packages (uqm-voice, ktuberling, klettres, pocketsphinx)",
    )
    s.add_argument("out")
    s.add_argument(
        "--speakers", nargs="+", help="only these voices, by name or ID, e.g. uqm/orz ktuberling/nn 3201"
    )
    s.add_argument(
        "--max-utterances", type=typed(Size), help="at most this many per voice (a small part, quickly)"
    )
    s.add_argument("--seed", type=typed(Seed), default=0, help="random seed")
    s.add_argument(
        "--root",
        type=_package_root,
        action="append",
        default=[],
        metavar="PACKAGE=PATH",
        help="read a package from PATH instead of where Debian installs it "
        "(uqm-voice: the folder holding uqm-0.8.0-voice.uqm)",
    )
    s.add_argument("--jobs", type=typed(Size))
    s.set_defaults(func=_corpus_recorded)


def _corpus_recorded(a):
    from ..corpus.recorded import build_recorded_corpus

    print(
        build_recorded_corpus(
            a.out,
            speakers=a.speakers,
            max_utterances=a.max_utterances,
            seed=a.seed,
            roots=dict(a.root),
            jobs=a.jobs,
            progress=progress_of(a),
        )
    )


def _add_transform(corpus) -> None:
    s = corpus.add_parser(
        "transform", help="new voices: each speaker's copies with pitch and formants moved (WORLD vocoder)"
    )
    s.add_argument("src", help="LibriSpeech-layout tree, e.g. data/corpus/seen")
    s.add_argument("out")
    s.add_argument("--copies", type=int, default=2, help="new voices per speaker")
    s.add_argument("--seed", type=typed(Seed), default=0, help="random seed")
    s.add_argument("--jobs", type=int, default=2, help="processes")
    s.set_defaults(func=_corpus_transform)


def _corpus_transform(a):
    from ..corpus.voice_transform import transform_corpus

    m = transform_corpus(a.src, a.out, copies=a.copies, seed=a.seed, jobs=a.jobs, progress=progress_of(a))
    print(f"{a.out}: {len(m.speakers)} voices, {len(m)} utterances; train on them with {m.source}")


def _add_bandlimit(corpus) -> None:
    s = corpus.add_parser(
        "bandlimit", help="a copy of a corpus or split with nothing above RATE/2 (8000: telephone band)"
    )
    s.add_argument("src", help="LibriSpeech-layout tree or split, e.g. data/recorded/unseen")
    s.add_argument("out", help="the copy (same speakers, ids and layout, 16 kHz)")
    s.add_argument("--rate", type=typed(Size), default=8000, help="the sample rate it passes through, Hz")
    s.set_defaults(func=_corpus_bandlimit)


def _corpus_bandlimit(a):
    from ..corpus.bandlimit import bandlimit_corpus

    print(bandlimit_corpus(a.src, a.out, a.rate, progress=progress_of(a)))


def _add_split(corpus) -> None:
    s = corpus.add_parser(
        "split",
        help="hold a family of voices (a language family, an engine) out of training: the cross-engine split",
    )
    s.add_argument(
        "--train", nargs="+", required=True, help="the training corpora (seen voices, their copies)"
    )
    s.add_argument("--unseen", required=True, help="the unseen voices' corpus")
    s.add_argument(
        "--hold-out", required=True, metavar="KEY=V,...", help="e.g. language=de,nl or engine=flite"
    )
    s.add_argument("--out", required=True, help="writes train.jsonl, family.jsonl, unseen.jsonl, split.json")
    s.set_defaults(func=_corpus_split)


def _corpus_split(a):
    from ..corpus import open_corpus
    from ..corpus.family_split import family_split, parse_rule, write_split

    key, values = parse_rule(a.hold_out)
    parts = family_split(open_corpus(a.train), open_corpus(a.unseen), key, values)
    out = write_split(parts, a.out, a.hold_out)
    for name, m in parts.items():
        print(f"{out / name}.jsonl: {len(m.speakers)} voices, {len(m)} utterances")


def _add_cache(corpus) -> None:
    s = corpus.add_parser(
        "cache",
        help="decode a corpus once into memory-mapped int16 shards (data.cache: same mixtures, faster)",
    )
    s.add_argument("src", nargs="+", help="LibriSpeech-layout trees or manifests, as data.train names them")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_corpus_cache)


def _corpus_cache(a):
    from ..corpus import open_corpus
    from ..corpus.audio_cache import build_cache

    m = open_corpus(a.src)
    out = build_cache(m, a.out, progress=progress_of(a))
    size = sum(f.stat().st_size for f in out.glob("shard-*.npy")) / 2**20
    print(f"{out}: {len(m)} utterances decoded, {size:.0f} MB; train with data.cache={out}")


def _speaker_range(text: str) -> tuple[int, int]:
    """``2..4`` or ``3`` -> (low, high)."""
    lo, _, hi = text.partition("..")
    try:
        return int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW..HIGH or N, got {text!r}") from None


def _add_conversation(corpus) -> None:
    s = corpus.add_parser(
        "conversation", help="long conversations with turns, pauses and overlap, each with its RTTM"
    )
    s.add_argument("out")
    s.add_argument("--data", required=True, help="the voices: LibriSpeech-layout tree or manifest")
    s.add_argument(
        "--speakers", type=_speaker_range, default=(2, 4), help="speakers per conversation, LOW..HIGH"
    )
    s.add_argument("--conversations", type=typed(Size), default=12, help="how many to write")
    s.add_argument("--minutes", type=typed(Positive), default=4.0, help="length of each")
    s.add_argument("--overlap", type=typed(Ratio), default=0.2, help="share of the speech that is overlapped")
    s.add_argument("--seed", type=typed(Seed), default=0, help="random seed")
    s.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bar")
    s.set_defaults(func=_corpus_conversation)


def _corpus_conversation(a):
    from ..apps.conversation import make_conversations
    from ..corpus import open_corpus

    out = make_conversations(
        open_corpus(a.data),
        a.out,
        speakers=a.speakers,
        conversations=a.conversations,
        minutes=a.minutes,
        overlap=a.overlap,
        seed=a.seed,
        progress=progress_of(a),
    )
    print(f"{out}: {a.conversations} conversations of {a.minutes} min, each WAV with its RTTM")


def _add_manifest(corpus) -> None:
    s = corpus.add_parser("manifest", help="LibriSpeech-layout tree -> JSONL manifest")
    s.add_argument("root")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_corpus_manifest)


def _corpus_manifest(a):
    from ..corpus import read_librispeech

    m = read_librispeech(a.root)
    m.save(a.out)
    print(f"{a.out}: {len(m)} utterances, {len(m.speakers)} speakers, fingerprint {m.fingerprint()}")


def _add_mix(corpus) -> None:
    s = corpus.add_parser("mix", help="write one mixture (and its sources) from a corpus")
    s.add_argument("data")
    s.add_argument("out")
    s.add_argument("--speakers", type=typed(Size), default=2, help="talkers in the mixture")
    s.add_argument("--seconds", type=typed(Positive), default=3.0, help="its length")
    s.add_argument("--sir", type=typed(float), default=0.0, help="dB, first talker over the others")
    s.add_argument("--overlap", type=typed(Ratio), default=1.0, help="share of the talk overlapped")
    s.add_argument("--seed", type=typed(Seed), default=0, help="random seed")
    s.set_defaults(func=_corpus_mix)


def _corpus_mix(a):
    from ..audio import save_audio
    from ..corpus import open_corpus
    from ..data.mixing import MixingConfig, draw_mixture, mix, read_sources

    manifest = open_corpus(a.data)
    cfg = MixingConfig(a.speakers, a.seconds, (a.sir, a.sir), (a.overlap, a.overlap))
    spec = draw_mixture(manifest, np.random.default_rng(a.seed), cfg)
    mixture, sources = mix(read_sources(spec, manifest.index))
    out = Path(a.out)
    save_audio(out, mixture)
    for i, src in enumerate(sources):
        save_audio(out.with_name(f"{out.stem}.source{i + 1}{out.suffix}"), src)
    write_text(out.with_suffix(".json"), json.dumps(spec.to_dict(), indent=1))
    print(f"{out}: speakers {', '.join(spec.speakers)}")


def add_corpus(sub) -> None:
    corpus = sub.add_parser("corpus", help="make or read corpora").add_subparsers(
        dest="corpus_cmd", required=True
    )
    for add in (
        _add_synth,
        _add_recorded,
        _add_transform,
        _add_bandlimit,
        _add_split,
        _add_cache,
        _add_conversation,
        _add_manifest,
        _add_mix,
    ):
        add(corpus)


# per corpus, the options of its own after ROOT, --out and --jobs
_MODE = (
    "--mode",
    dict(choices=("min", "max"), default="min", help="the mixtures' length: shortest or longest source"),
)
_PREPARE_OPTIONS = {
    "librispeech": [("--subsets", dict(type=_names, help="comma-separated (default: every folder of ROOT)"))],
    "voxceleb": [("--trials", dict(nargs="+", help="official lists, e.g. veri_test2.txt"))],
    "wsj0-2mix": [
        ("--rate", dict(choices=("8k", "16k"), default="8k", help="the sample rate folder")),
        _MODE,
        ("--splits", dict(type=_names, help="comma-separated of tr,cv,tt (default: all)")),
    ],
    "libri2mix": [
        ("--rate", dict(choices=("8k", "16k"), default="16k", help="the sample rate folder")),
        _MODE,
        (
            "--mix",
            dict(
                choices=("mix_clean", "mix_both", "mix_single"),
                default="mix_clean",
                help="which mixtures",
            ),
        ),
        ("--splits", dict(type=_names, help="comma-separated, e.g. train-360,dev,test (default: all)")),
    ],
}


def add_prepare(sub) -> None:
    prepare = sub.add_parser("prepare", help="a real corpus -> JSONL manifest (parallel, resumable)")
    prepare = prepare.add_subparsers(dest="corpus", required=True)
    for name, extra in _PREPARE_OPTIONS.items():
        s = prepare.add_parser(name, help=f"{name} -> manifest (the documentation's Corpora page)")
        s.add_argument("root", help=f"the folder {name} was unpacked into")
        s.add_argument(
            "--out", required=True, help="the manifest (.jsonl); OUT.partial holds a stopped run's work"
        )
        s.add_argument("--jobs", type=int, default=4, help="files probed at once")
        for flag, kwargs in extra:
            s.add_argument(flag, **kwargs)
        s.set_defaults(func=_prepare, options=[flag[2:] for flag, _ in extra])


def _prepare(a):
    from ..corpus import PREPARERS

    print(
        PREPARERS[a.corpus](
            a.root, a.out, jobs=a.jobs, progress=progress_of(a), **{k: getattr(a, k) for k in a.options}
        )
    )
