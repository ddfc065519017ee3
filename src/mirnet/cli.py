"""``mirnet`` command line: composes the library, holds no logic of its own.

Every user-facing error (bad audio, bad config, bad checkpoint, missing data: a
``mirnet.errors.MirnetError``, or an OSError on a user's path) is printed as one line naming the
file or key and the reason, with exit status 2. Anything else is a bug and keeps its traceback;
``--debug`` shows the traceback of user-facing errors too.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from .allocator import keep_freed_memory
from .arguments import Count, Positive, Ratio, Seed, Size, coerce
from .atomic import write_text
from .errors import ConfigError, InputError, MirnetError
from .eval import COHORT_MIXTURES, CONDITION_NAMES, SCORE_NORMS, TOP_K
from .eval.setting import MixtureSetting, TrialSetting
from .train.experiment import load_experiment

log = logging.getLogger("mirnet")


def _inputs(*paths) -> None:
    """Refuse a missing input before any model loads (seconds of work a typo would waste)."""
    for path in paths:
        if not Path(path).exists():
            raise InputError(f"{path}: no such file")
        if Path(path).is_dir():
            raise InputError(f"{path}: a directory, not an audio file")


def _output(path) -> None:
    """Refuse an output file whose folder does not exist before the work, not after it."""
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise InputError(f"{path}: no such directory {Path(path).parent}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _corpus_synth(a):
    from .corpus.synth import synthesize_corpus
    from .corpus.voices import DEFAULT_ENGINES

    print(
        synthesize_corpus(
            a.out,
            voices=a.voices,
            speakers=a.speakers,
            utterances=a.utterances,
            seed=a.seed,
            unseen_fraction=a.unseen_fraction,
            jobs=a.jobs,
            progress=not a.quiet,
            engines=DEFAULT_ENGINES if a.engines is None else a.engines,
        )
    )


def _package_root(text: str) -> tuple[str, str]:
    """``PACKAGE=PATH`` -> (package, path)."""
    package, sep, path = text.partition("=")
    if not sep or not package or not path:
        raise argparse.ArgumentTypeError(f"expected PACKAGE=PATH (e.g. uqm-voice=/mnt/uqm), got {text!r}")
    return package, path


def _corpus_recorded(a):
    from .corpus.recorded import build_recorded_corpus

    print(
        build_recorded_corpus(
            a.out,
            speakers=a.speakers,
            max_utterances=a.max_utterances,
            seed=a.seed,
            roots=dict(a.root),
            jobs=a.jobs,
            progress=not a.quiet,
        )
    )


def _corpus_bandlimit(a):
    from .corpus.bandlimit import bandlimit_corpus

    print(bandlimit_corpus(a.src, a.out, a.rate, progress=not a.quiet))


def _corpus_transform(a):
    from .corpus.voice_transform import transform_corpus

    m = transform_corpus(a.src, a.out, copies=a.copies, seed=a.seed, jobs=a.jobs)
    print(f"{a.out}: {len(m.speakers)} voices, {len(m)} utterances; train on them with {m.source}")


def _corpus_split(a):
    from .corpus import open_corpus
    from .corpus.family_split import family_split, parse_rule, write_split

    key, values = parse_rule(a.hold_out)
    parts = family_split(open_corpus(a.train), open_corpus(a.unseen), key, values)
    out = write_split(parts, a.out, a.hold_out)
    for name, m in parts.items():
        print(f"{out / name}.jsonl: {len(m.speakers)} voices, {len(m)} utterances")


def _speaker_range(text: str) -> tuple[int, int]:
    """``2..4`` or ``3`` -> (low, high)."""
    lo, _, hi = text.partition("..")
    try:
        return int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW..HIGH or N, got {text!r}") from None


def _corpus_conversation(a):
    from .apps.conversation import make_conversations
    from .corpus import open_corpus

    out = make_conversations(
        open_corpus(a.data),
        a.out,
        speakers=a.speakers,
        conversations=a.conversations,
        minutes=a.minutes,
        overlap=a.overlap,
        seed=a.seed,
        progress=not a.quiet,
    )
    print(f"{out}: {a.conversations} conversations of {a.minutes} min, each WAV with its RTTM")


def _corpus_cache(a):
    from .corpus import open_corpus
    from .corpus.audio_cache import build_cache

    m = open_corpus(a.src)
    out = build_cache(m, a.out, progress=not a.quiet)
    size = sum(f.stat().st_size for f in out.glob("shard-*.npy")) / 2**20
    print(f"{out}: {len(m)} utterances decoded, {size:.0f} MB; train with data.cache={out}")


def _corpus_manifest(a):
    from .corpus import read_librispeech

    m = read_librispeech(a.root)
    m.save(a.out)
    print(f"{a.out}: {len(m)} utterances, {len(m.speakers)} speakers, fingerprint {m.fingerprint()}")


def _corpus_mix(a):
    from .audio import save_audio
    from .corpus import open_corpus
    from .data.mixing import MixingConfig, draw_mixture, mix, read_sources

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


def _prepare(a):
    from .corpus import PREPARERS

    print(
        PREPARERS[a.corpus](
            a.root, a.out, jobs=a.jobs, progress=not a.quiet, **{k: getattr(a, k) for k in a.options}
        )
    )


def _names(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def _typed(tp) -> Callable[[str], Any]:
    """An argparse type for a number of config type ``tp`` (``Size``, ``Ratio``...): the config's
    bounds, and finite, so that a bad option is argparse's usage error and not a traceback."""
    kind = typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp

    def parse(text: str):
        try:
            return coerce(kind(text), tp, "value")
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None

    parse.__name__ = kind.__name__  # argparse's "invalid int value: 'x'"
    return parse


def _train(a):
    from .train import distributed
    from .train.trainer import Trainer

    cfg = load_experiment(a.config, a.overrides)
    try:
        trainer = Trainer(cfg, a.exp, progress=not a.quiet)
        result = trainer.check(resume=a.resume) if a.check else trainer.run(resume=a.resume)
        # before leave(): DDP's reducer holds the process group, and freed after a gloo group
        # was torn down, its destructor waits forever on the group's threads
        del trainer
    except BaseException:
        distributed.leave(wait=False)
        raise
    distributed.leave()
    if distributed.is_main_process():
        print(result if a.check else json.dumps(result, indent=1))


def _eval(a):
    from .eval.evaluate import evaluate

    _output(a.json)
    _output(a.scores)

    result = evaluate(
        a.exp,
        TrialSetting(**{key: getattr(a, key) for key in TrialSetting.FLAGS}),
        metric=a.metric,
        condition=a.condition,
        trial_list=a.trial_list,
        scores_file=a.scores,
        progress=not a.quiet,
        separator=a.separator,
        precision=a.precision,
        cohort=a.cohort,
        top_k=a.top_k,
        score_norm=a.score_norm,
    )
    text = json.dumps(result, indent=1)
    if a.json:
        write_text(a.json, text + "\n")
    print(text)
    print(_eval_summary(result), file=sys.stderr)  # stdout stays JSON for a pipe


def _eval_summary(r: dict) -> str:
    """One line a person reads: ``EER 9.20% [8.10, 10.70], minDCF 0.733: 1000 mixture trials ...``."""
    norm = r.get("score_norm")
    scoring = f"{r['metric']}, {norm['method']} against {norm['cohort']}" if norm else f"{r['metric']}, raw"
    return (
        f"EER {r['eer']:.2f}% [{r['eer_ci'][0]:.2f}, {r['eer_ci'][1]:.2f}], minDCF {r['min_dcf']:.3f}: "
        f"{r['trials']} {r['condition']} trials of {r['speakers']} speakers of {r['data']} at "
        f"{r['sir_db']:g} dB ({scoring}; {r['precision']}), {r['seconds']:.0f} s"
    )


def _cohort(a):
    from .eval.evaluate import write_cohort

    _output(a.out)

    setting = MixtureSetting(**{key: getattr(a, key) for key in MixtureSetting.FLAGS})
    path, n = write_cohort(a.exp, setting, a.out, a.precision, a.training_only)
    print(f"{path}: {n} embeddings of {a.n} mixtures of {a.data}")


def _eval_probes(a):
    from .corpus import open_corpus
    from .eval.evaluate import load_system
    from .eval.probes import probe_attributes

    _output(a.json)

    train, test = open_corpus(a.train), open_corpus(a.data)
    result = {}
    for exp in a.exp:
        embed, _ = load_system(exp, a.precision)
        result[exp] = probe_attributes(embed, train, test, a.attributes, a.seconds, progress=not a.quiet)
    text = json.dumps(result, indent=1)
    if a.json:
        write_text(a.json, text + "\n")
    print(text)


def _embed(a):
    import mirnet

    _inputs(a.audio)
    _output(a.out)
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


# per setting field: (type, help); the option's name and default come from the setting itself
_SETTING_OPTIONS = {
    "trials": (Size, "trials drawn from --data"),
    "n": (Size, "mixtures drawn from --data"),
    "sir_db": (float, "SIR of every mixture, dB"),
    "overlap": (Ratio, "overlap ratio of the sources (1 = full overlap)"),
    "crop_seconds": (Positive, "seconds per mixture"),
    "n_speakers": (Size, "speakers per mixture"),
    "seed": (Seed, "the draw's seed: the same seed, the same trials"),
}


def _setting_options(s, setting: type, data_group=None) -> None:
    """One option per field of ``setting`` (TrialSetting or MixtureSetting), under the field's
    name, so that the parsed arguments build one; ``--data`` goes in ``data_group`` if given."""
    for key, flag in setting.FLAGS.items():
        if key == "data":
            (data_group or s).add_argument(
                flag,
                dest=key,
                required=data_group is None,
                help="LibriSpeech-layout tree or manifest to draw from",
            )
        elif key == "heldout":
            s.add_argument(
                flag,
                dest=key,
                action="store_true",
                help="only the utterances the model held out of training (seen-speaker evaluation)",
            )
        else:
            kind, text = _SETTING_OPTIONS[key]
            s.add_argument(
                flag,
                dest=key,
                metavar=flag[2:].upper(),
                type=_typed(kind),
                default=getattr(setting, key),
                help=text,
            )


def precision_option(s) -> None:
    s.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="auto (default): bf16 autocast where the CPU has AMX, else fp32",
    )


def _print_result(a, result: dict, lines: list[str]) -> None:
    """``--json``: the result as JSON on stdout; else a few readable lines."""
    print(json.dumps(result, indent=1) if a.json else "\n".join(lines))


def _threshold_text(t: float | None, source: str | None) -> str:
    return "no threshold (give --threshold or --calibration)" if t is None else f"{t:.4f} ({source})"


def _decision(a) -> dict:
    """verify's and identify's threshold options, as their functions take them."""
    return dict(threshold=a.threshold, calibration=a.calibration, calibrated=not a.uncalibrated)


def _verify(a):
    from .apps.verification import verify

    _inputs(a.a, a.b)
    v = verify(a.exp, a.a, a.b, metric=a.metric, **_decision(a))
    decision = {None: "-", True: "same speaker", False: "different speakers"}[v.accepted]
    _print_result(
        a,
        {"a": a.a, "b": a.b, **v.to_dict()},
        [
            f"score: {v.score:.4f} (-{v.metric} distance; outputs {v.pair[0] + 1} of A and {v.pair[1] + 1} of B)",
            f"threshold: {_threshold_text(v.threshold, v.threshold_source)}",
            f"decision: {decision}",
        ],
    )


def _enroll(a):
    from .apps.verification import enroll

    _inputs(*a.files)
    g = enroll(a.exp, a.gallery, a.name, a.files)
    counts = {n: len(f) for n, f in g.files.items()}
    print(
        f"{a.gallery}: {a.name} enrolled from {_plural(len(a.files), 'recording')}; "
        f"{_plural(len(g.names), 'name')}: {counts}"
    )


def _identify(a):
    from .apps.verification import identify

    _inputs(a.audio)
    matches = identify(a.exp, a.audio, a.gallery, **_decision(a))
    _print_result(
        a,
        {"audio": a.audio, "gallery": a.gallery, "matches": [m.to_dict() for m in matches]},
        [f"speaker {m.output + 1}: {m.name} (score {m.score:.4f}, closest: {m.best})" for m in matches],
    )


def _diarization_settings(a, fingerprint: str, exp):
    from .apps.diarization import diarization_settings

    given = {k: getattr(a, k) for k in ("window", "hop", "same_threshold", "neighbours")}
    # tuning chooses the settings itself: a shipped calibration applies to the other runs only
    tuning = getattr(a, "tune", False) or getattr(a, "tune_on", None)
    return diarization_settings(
        exp, fingerprint, a.calibration, a.cohort, given, not (a.uncalibrated or tuning)
    )


def _diarize(a):
    from .apps.diarization import diarize, load_diarizer
    from .eval.evaluate import system_fingerprint

    _inputs(a.audio)
    _output(a.out)
    settings, cohort = _diarization_settings(a, system_fingerprint(a.exp), a.exp)
    embed = load_diarizer(a.exp, cohort)
    result = diarize(
        embed,
        a.audio,
        settings,
        speakers=a.speakers,
        max_speakers=a.max_speakers,
        min_speakers=a.min_speakers,
        progress=not a.quiet,
    )
    named = {}
    if a.gallery:
        import mirnet

        from .apps.verification import UNKNOWN, Gallery, name_speakers, resolve_threshold

        embedder = mirnet.load(a.exp)
        gallery = Gallery.open(a.gallery, embedder.fingerprint, embedder.embed_dim)
        limit = resolve_threshold(None, None, embedder, verb="identify", calibrated=not a.uncalibrated)
        matches = name_speakers(embedder, a.audio, result, gallery, limit)
        named = {k: m.name for k, m in matches.items() if m.name != UNKNOWN}
        result = result.renamed(named)
    result.write(a.out)
    _print_result(
        a,
        {"rttm": a.out, "cohort": cohort, "gallery_names": named, **result.to_dict()},
        [
            f"{a.out}: {_plural(result.speakers, 'speaker')}, {_plural(len(result.turns), 'turn')} "
            f"in {result.seconds:.1f} s"
        ],
    )


def _eval_diarization(a):
    from .apps.diarization_scoring import evaluate_system, table
    from .eval.evaluate import system_fingerprint

    _output(a.json)

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
                progress=not a.quiet,
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


def _serve(a):
    import uvicorn

    import mirnet

    from .apps.diarization import diarization_settings, load_diarizer
    from .apps.verification import Gallery, resolve_threshold
    from .serve.server import LOCAL_HOSTS, Limits, Service, create_app

    embedder = mirnet.load(a.exp)
    gallery = None if a.gallery is None else Gallery.open(a.gallery, embedder.fingerprint, embedder.embed_dim)
    threshold = None if gallery is None else resolve_threshold(None, None, embedder, verb="identify")
    settings, cohort = diarization_settings(a.exp, embedder.fingerprint)
    diarizer = None if cohort is None else load_diarizer(a.exp, cohort)
    examples = {}
    for f in a.examples or []:
        if not Path(f).is_file():
            raise InputError(f"{f}: no such example file")
        examples[Path(f).name] = Path(f)
    limits = Limits(
        max_bytes=round(a.max_mb * 2**20), max_seconds=a.max_seconds, workers=a.workers, queue=a.queue
    )
    separator = None if a.separator is None else mirnet.load_separator(a.separator)
    hosts = None if "*" in a.allowed_host else (*LOCAL_HOSTS, a.host, *a.allowed_host)
    service = Service(embedder, separator, gallery, examples, limits, threshold, settings, diarizer)
    app = create_app(service, hosts)
    # uvicorn's info level: the address once it listens, and a status line per request
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning" if a.quiet else "info")


def _separate(a):
    import mirnet

    from .audio import read_header, save_audio

    _inputs(a.audio, *(a.enroll or []))
    rate = a.sample_rate or read_header(a.audio).sample_rate  # the input's, as Asteroid writes them
    sep = mirnet.load_separator(a.exp)
    estimates = sep.at_rate(sep.separate_file(a.audio, enrollment=a.enroll, progress=not a.quiet), rate)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(a.audio).stem
    outputs = []
    for k, wav in enumerate(estimates):
        path = save_audio(out / f"{stem}.speaker{k + 1}.wav", wav, rate)
        who = (
            {"identity": k}
            if sep.mode == "mixture"
            else {"enrollment": str(a.enroll[k])}
            if sep.mode == "enrolled"
            else {}
        )
        outputs.append({"file": path.name, **who})
    meta = {
        "mixture": str(a.audio),
        "separator": str(a.exp),
        "conditioning": sep.mode,
        "sample_rate": rate,
        "outputs": outputs,
    }
    write_text(out / f"{stem}.json", json.dumps(meta, indent=1) + "\n")
    for o in outputs:
        print(out / o["file"])


def _eval_separation(a):
    from .eval.separation import evaluate_separation

    _output(a.json)

    drawn = None if a.data is None else MixtureSetting(**{k: getattr(a, k) for k in MixtureSetting.FLAGS})
    result = evaluate_separation(
        a.exp,
        drawn,
        a.mixtures,
        seed=a.seed,
        csv_file=a.csv,
        pesq_stoi=not a.no_pesq,
        conditioner=a.conditioner,
        progress=not a.quiet,
    )
    text = json.dumps(result, indent=1)
    if a.json:
        write_text(a.json, text + "\n")
    print(text)


def _export(a):
    from .audio import SAMPLE_RATE
    from .export import CHECKS, TOLERANCE, export_model

    out, diff = export_model(a.exp, a.format, a.out)
    checked = ", ".join(f"{b}x{n / SAMPLE_RATE:.2f} s" for b, n in CHECKS)
    print(
        f"{out}: max abs difference from PyTorch {diff:.2e} (<= {TOLERANCE:g}) on random mixtures of {checked}"
    )


def _compose(a):
    from .checkpoint import compose_models

    print(compose_models(a.separator, a.embedder, a.out, link=a.link))


def _plot(a):
    from .eval import figures

    if a.kind != "curves" and a.data is None:
        raise InputError(f"plot {a.kind}: needs --data, the corpus to draw mixtures from")
    if a.kind == "tsne":
        paths = figures.tsne_figures(a.exp, a.data, a.out, n_speakers=a.n_plot_speakers, seed=a.seed)
    elif a.kind == "attention":
        paths = [figures.attention_figure(a.exp, a.data, a.out, seed=a.seed)]
    else:
        paths = [figures.training_curve_figure(a.exp, a.out)]
    print("\n".join(map(str, paths)))


def _report(a):
    from .eval.report import write_report
    from .eval.report.systems import parse_systems

    sections = []
    if a.conversations:
        from .apps.diarization_scoring import read_conversations, report_section

        for folder in filter(None, (a.conversations, a.conversations_tune)):
            read_conversations(folder)  # a wrong folder is refused now, not after hours of scoring
        systems = [(s.label, s.path) for s in parse_systems(a.systems)]
        sections.append(
            lambda out, cohorts: report_section(
                out, systems, a.conversations, a.conversations_tune, progress=not a.quiet, cohorts=cohorts
            )
        )
    elif a.conversations_tune:
        raise InputError("--conversations-tune tunes the diarization of --conversations: give both")
    print(
        write_report(
            a.out,
            a.systems,
            a.data,
            seen=a.seen,
            trials=a.trials,
            compare_trials=a.compare_trials,
            sweep_trials=a.sweep_trials,
            clean_trials=a.clean_trials,
            conditions=a.conditions,
            separator=a.separator,
            sweeps=a.sweep,
            seed=a.seed,
            metric=a.metric,
            score_norm=a.score_norm,
            top_k=a.top_k,
            precision=a.precision,
            train_run=a.train_run,
            curves=a.curve,
            paper_figures=not a.no_paper_figures,
            separators=a.separator_systems,
            separation_mixtures=a.separation_mixtures,
            recorded=a.recorded,
            recorded_trials=a.recorded_trials,
            sections=sections,
            command=shlex.join(["mirnet", *a.argv]),
            progress=not a.quiet,
        )
    )


class _Help(argparse.HelpFormatter):
    """Every option's default in its help, unless the help already says it (or there is none)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or any(action.default is v for v in (None, False, argparse.SUPPRESS))
            or action.default == []
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


class _Parser(argparse.ArgumentParser):
    """Every subcommand's parser is one of these (argparse makes them of the parent's class)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .pretrained import NAMES

    p = _Parser(prog="mirnet", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"mirnet {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--debug", action="store_true", help="a traceback for every error, not one line")
    sub = p.add_subparsers(dest="command", required=True)

    corpus = sub.add_parser("corpus", help="make or read corpora").add_subparsers(
        dest="corpus_cmd", required=True
    )
    s = corpus.add_parser("synth", help="synthesize the default corpus (espeak-ng + MBROLA, flite)")
    s.add_argument("out")
    s.add_argument("--speakers", type=int)
    s.add_argument("--utterances", type=int, default=40, help="per voice")
    s.add_argument("--seed", type=_typed(Seed), default=0, help="random seed")
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
    s = corpus.add_parser(
        "recorded",
        help="recorded human voices from Debian packages (uqm-voice, ktuberling, klettres, pocketsphinx)",
    )
    s.add_argument("out")
    s.add_argument(
        "--speakers", nargs="+", help="only these voices, by name or ID, e.g. uqm/orz ktuberling/nn 3201"
    )
    s.add_argument(
        "--max-utterances", type=_typed(Size), help="at most this many per voice (a small part, quickly)"
    )
    s.add_argument("--seed", type=_typed(Seed), default=0, help="random seed")
    s.add_argument(
        "--root",
        type=_package_root,
        action="append",
        default=[],
        metavar="PACKAGE=PATH",
        help="read a package from PATH instead of where Debian installs it "
        "(uqm-voice: the folder holding uqm-0.8.0-voice.uqm)",
    )
    s.add_argument("--jobs", type=_typed(Size))
    s.set_defaults(func=_corpus_recorded)
    s = corpus.add_parser(
        "transform", help="new voices: each speaker's copies with pitch and formants moved (WORLD vocoder)"
    )
    s.add_argument("src", help="LibriSpeech-layout tree, e.g. data/corpus/seen")
    s.add_argument("out")
    s.add_argument("--copies", type=int, default=2, help="new voices per speaker")
    s.add_argument("--seed", type=_typed(Seed), default=0, help="random seed")
    s.add_argument("--jobs", type=int, default=2, help="processes")
    s.set_defaults(func=_corpus_transform)
    s = corpus.add_parser(
        "bandlimit", help="a copy of a corpus or split with nothing above RATE/2 (8000: telephone band)"
    )
    s.add_argument("src", help="LibriSpeech-layout tree or split, e.g. data/recorded/unseen")
    s.add_argument("out", help="the copy (same speakers, ids and layout, 16 kHz)")
    s.add_argument("--rate", type=_typed(Size), default=8000, help="the sample rate it passes through, Hz")
    s.set_defaults(func=_corpus_bandlimit)
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
    s = corpus.add_parser(
        "cache",
        help="decode a corpus once into memory-mapped int16 shards (data.cache: same mixtures, faster)",
    )
    s.add_argument("src", nargs="+", help="LibriSpeech-layout trees or manifests, as data.train names them")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_corpus_cache)
    s = corpus.add_parser(
        "conversation", help="long conversations with turns, pauses and overlap, each with its RTTM"
    )
    s.add_argument("out")
    s.add_argument("--data", required=True, help="the voices: LibriSpeech-layout tree or manifest")
    s.add_argument(
        "--speakers", type=_speaker_range, default=(2, 4), help="speakers per conversation, LOW..HIGH"
    )
    s.add_argument("--conversations", type=_typed(Size), default=12, help="how many to write")
    s.add_argument("--minutes", type=_typed(Positive), default=4.0, help="length of each")
    s.add_argument(
        "--overlap", type=_typed(Ratio), default=0.2, help="share of the speech that is overlapped"
    )
    s.add_argument("--seed", type=_typed(Seed), default=0, help="random seed")
    s.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bar")
    s.set_defaults(func=_corpus_conversation)
    s = corpus.add_parser("manifest", help="LibriSpeech-layout tree -> JSONL manifest")
    s.add_argument("root")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_corpus_manifest)
    s = corpus.add_parser("mix", help="write one mixture (and its sources) from a corpus")
    s.add_argument("data")
    s.add_argument("out")
    s.add_argument("--speakers", type=_typed(Size), default=2, help="talkers in the mixture")
    s.add_argument("--seconds", type=_typed(Positive), default=3.0, help="its length")
    s.add_argument("--sir", type=_typed(float), default=0.0, help="dB, first talker over the others")
    s.add_argument("--overlap", type=_typed(Ratio), default=1.0, help="share of the talk overlapped")
    s.add_argument("--seed", type=_typed(Seed), default=0, help="random seed")
    s.set_defaults(func=_corpus_mix)

    prepare = sub.add_parser("prepare", help="a real corpus -> JSONL manifest (parallel, resumable)")
    prepare = prepare.add_subparsers(dest="corpus", required=True)
    mode = (
        "--mode",
        dict(choices=("min", "max"), default="min", help="the mixtures' length: shortest or longest source"),
    )
    options = {
        "librispeech": [
            ("--subsets", dict(type=_names, help="comma-separated (default: every folder of ROOT)"))
        ],
        "voxceleb": [("--trials", dict(nargs="+", help="official lists, e.g. veri_test2.txt"))],
        "wsj0-2mix": [
            ("--rate", dict(choices=("8k", "16k"), default="8k", help="the sample rate folder")),
            mode,
            ("--splits", dict(type=_names, help="comma-separated of tr,cv,tt (default: all)")),
        ],
        "libri2mix": [
            ("--rate", dict(choices=("8k", "16k"), default="16k", help="the sample rate folder")),
            mode,
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
    for name, extra in options.items():
        s = prepare.add_parser(name, help=f"{name} -> manifest (the documentation's Corpora page)")
        s.add_argument("root", help=f"the folder {name} was unpacked into")
        s.add_argument(
            "--out", required=True, help="the manifest (.jsonl); OUT.partial holds a stopped run's work"
        )
        s.add_argument("--jobs", type=int, default=4, help="files probed at once")
        for flag, kwargs in extra:
            s.add_argument(flag, **kwargs)
        s.set_defaults(func=_prepare, options=[flag[2:] for flag, _ in extra])

    s = sub.add_parser("train", help="train an experiment from a YAML config")
    s.add_argument("config")
    s.add_argument("exp", help="experiment directory (checkpoints, logs, resolved config)")
    s.add_argument("overrides", nargs="*", help="section.key=value, e.g. optim.lr=1e-3")
    s.add_argument("--resume", action="store_true")
    s.add_argument(
        "--check",
        action="store_true",
        help="build what the run needs (corpus, data, model, loss, optimizer), put one batch through "
        "model and loss, print a one-line summary and exit without training or writing",
    )
    s.set_defaults(func=_train)

    s = sub.add_parser("eval", help="mixture speaker verification EER (paper 4.1.2)")
    s.add_argument(
        "exp",
        help=f"a shipped model ({', '.join(NAMES)}), an experiment dir or model file, or the peer resemblyzer",
    )
    _setting_options(s, TrialSetting)
    s.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine", help="the score: -distance")
    s.add_argument(
        "--condition",
        choices=CONDITION_NAMES,
        default="mixture",
        help="clean: first sources alone; enrolled: mixture vs clean target/non-target utterances; "
        "separated: every source alone (oracle separation); cascade: each mixture split by "
        "--separator, every output embedded",
    )
    s.add_argument("--separator", help="the separator of the cascade condition (experiment dir)")
    s.add_argument("--trial-list", help="read trials from this file if it exists, else write them there")
    s.add_argument("--json", help="write the result here")
    s.add_argument("--scores", help="write the trial scores and labels here (.npz), e.g. for DET curves")
    s.add_argument(
        "--cohort", help="AS-norm the scores against this cohort of the same model (mirnet cohort)"
    )
    s.add_argument(
        "--score-norm",
        choices=SCORE_NORMS,
        default="asnorm",
        help="with --cohort: AS-norm over each side's closest cohort scores, or cosine after "
        "subtracting the cohort's mean embedding",
    )
    s.add_argument(
        "--top-k", type=_typed(Size), default=TOP_K, help="cohort scores each side is normalised by (asnorm)"
    )
    precision_option(s)
    s.set_defaults(func=_eval)

    s = sub.add_parser(
        "cohort",
        help="the embeddings a model gives mixtures of its training voices: the cohort of eval --cohort",
    )
    s.add_argument(
        "exp",
        help=f"a shipped model ({', '.join(NAMES)}), an experiment dir or model file, or the peer resemblyzer",
    )
    _setting_options(s, MixtureSetting)
    s.set_defaults(n=COHORT_MIXTURES)
    s.add_argument(
        "--training-only",
        action="store_true",
        help="draw only from the utterances the model did not hold out, so that a cohort never holds "
        "a held-out trial's utterance",
    )
    s.add_argument("--out", required=True, help="the cohort file to write (.npz)")
    precision_option(s)
    s.set_defaults(func=_cohort)

    s = sub.add_parser(
        "eval-probes",
        help="linear probes of speaker metadata (gender, language, engine) on frozen embeddings",
    )
    s.add_argument("exp", nargs="+", help="experiment dirs or model files, or peers (resemblyzer)")
    s.add_argument("--train", required=True, help="corpus of the probes' training voices (the seen ones)")
    s.add_argument("--data", required=True, help="corpus of the voices they are scored on (unseen)")
    s.add_argument(
        "--attributes", nargs="+", default=["gender", "language", "engine"], help="each one probed"
    )
    s.add_argument("--seconds", type=_typed(Positive), default=3.0, help="of each utterance, from its start")
    s.add_argument("--json", help="write the result here")
    precision_option(s)
    s.set_defaults(func=_eval_probes)

    s = sub.add_parser("embed", help="one embedding per speaker of a mixture")
    s.add_argument(
        "exp", help=f"a model: a shipped name ({', '.join(NAMES)}), an experiment dir or a model file"
    )
    s.add_argument("audio", help="the recording (any rate and channel count: converted to 16 kHz mono)")
    s.add_argument("--speakers", type=_typed(Size), help="refuse a model that gives another count")
    s.add_argument("--out", help="save the (N, D) embeddings as .npy")
    precision_option(s)
    s.add_argument(
        "--runtime",
        choices=("torch", "onnx"),
        default="torch",
        help="onnx: run the model's ONNX export (mirnet export EXP --format onnx) in ONNX Runtime, fp32",
    )
    s.set_defaults(func=_embed)

    def threshold_options(s, calibration_help: str) -> None:
        t = s.add_mutually_exclusive_group()
        t.add_argument("--threshold", type=_typed(float), help="accept scores (-distance) at or above this")
        t.add_argument("--calibration", metavar="EVAL.json", help=calibration_help)
        t.add_argument(
            "--uncalibrated",
            action="store_true",
            help="scores only: not the calibration a shipped model carries (used by default)",
        )
        s.add_argument("--json", action="store_true", help="print the result as JSON")

    s = sub.add_parser("verify", help="do two recordings (mixtures or single voices) share a speaker?")
    s.add_argument(
        "exp", help="an embedder: a shipped name (reference, mirnet, ...), an experiment dir or model file"
    )
    s.add_argument("a", help="audio file A")
    s.add_argument("b", help="audio file B")
    s.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine", help="the score: -distance")
    threshold_options(s, "decide at the EER threshold of this `mirnet eval EXP --json` result")
    s.set_defaults(func=_verify)

    s = sub.add_parser("enroll", help="add clean recordings of a named speaker to a gallery")
    s.add_argument(
        "exp", help="an embedder: a shipped name (reference, mirnet, ...), an experiment dir or model file"
    )
    s.add_argument("--gallery", required=True, help="the gallery folder (made if new)")
    s.add_argument("name", help="the speaker's name, as identify and diarize will print it")
    s.add_argument("files", nargs="+", metavar="FILE", help="clean recordings of that speaker alone")
    s.set_defaults(func=_enroll)

    s = sub.add_parser("identify", help="which enrolled speakers are in a mixture")
    s.add_argument("exp", help="the embedder the gallery was enrolled with")
    s.add_argument("audio", help="the recording (a mixture or one voice)")
    s.add_argument("--gallery", required=True)
    threshold_options(
        s, "below the EER threshold of this `mirnet eval EXP --condition enrolled --json` result: unknown"
    )
    s.set_defaults(func=_identify)

    def diarization_options(s) -> None:
        s.add_argument("--window", type=_typed(Positive), help="seconds per window (default 3)")
        s.add_argument("--hop", type=_typed(Positive), help="seconds between windows (default 1.5)")
        s.add_argument(
            "--same-threshold",
            type=_typed(float),
            help="cosine similarity above which a window's outputs are one talker",
        )
        s.add_argument(
            "--neighbours",
            type=_typed(Ratio),
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

    s = sub.add_parser(
        "diarize", help="who spoke when (overlaps included) in a recording of any length -> RTTM"
    )
    s.add_argument(
        "exp",
        help="an embedder: a shipped name (reference, mirnet, ...), an experiment dir or model file, or resemblyzer",
    )
    s.add_argument("audio", help="the recording, of any length")
    s.add_argument("--out", required=True, help="the RTTM to write")
    s.add_argument(
        "--num-speakers",
        "--speakers",
        dest="speakers",
        type=_typed(Size),
        help="the number of speakers, if known",
    )
    s.add_argument("--min-speakers", type=_typed(Size), help="at least this many speakers")
    s.add_argument("--max-speakers", type=_typed(Size), help="at most this many speakers")
    s.add_argument("--json", action="store_true", help="also print the timeline as JSON")
    s.add_argument(
        "--gallery",
        help="name each speaker from this gallery (mirnet enroll) where identify would, in the RTTM too",
    )
    diarization_options(s)
    s.set_defaults(func=_diarize)

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
    s.add_argument("--collar", type=_typed(float), default=0.25, help="seconds forgiven around each boundary")
    s.add_argument("--json", help="write the result (with a row per file) here")
    diarization_options(s)
    s.set_defaults(func=_eval_diarization)

    s = sub.add_parser("serve", help="a web page: upload or record a clip, see its speakers (and tracks)")
    s.add_argument(
        "exp", help="an embedder: a shipped name (reference, mirnet, ...), an experiment dir or model file"
    )
    s.add_argument("--separator", help="also separate each clip with this separator")
    s.add_argument("--gallery", help="name each identity from this gallery (mirnet enroll)")
    s.add_argument("--examples", nargs="+", metavar="WAV", help="clips a visitor can pick")
    s.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    s.add_argument("--port", type=int, default=8000, help="the port to listen on")
    s.add_argument("--max-mb", type=_typed(Positive), default=50.0, help="largest upload")
    s.add_argument(
        "--max-seconds",
        type=_typed(Positive),
        default=600.0,
        help="longest clip (its CPU cost: docs/applications.md)",
    )
    s.add_argument("--workers", type=_typed(Size), default=2, help="clips analysed at once")
    s.add_argument("--queue", type=_typed(Count), default=4, help="clips that may wait; beyond them: 429")
    s.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name the server answers besides localhost and --host (repeatable; '*': any, "
        "for a server behind a proxy that checks Host and Origin itself)",
    )
    s.set_defaults(func=_serve)

    s = sub.add_parser("separate", help="one WAV per speaker of a mixture, and a JSON naming whose each is")
    s.add_argument(
        "exp",
        help="a separator: a shipped name (upit, voicefilter_mirnet, ...), an experiment dir or model file",
    )
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
        type=_typed(Size),
        help="of the written tracks (default: the input's own rate; the models run at 16 kHz)",
    )
    s.set_defaults(func=_separate)

    s = sub.add_parser("eval-separation", help="SDRi, SI-SDRi, PESQ, STOI of a separator on fixed mixtures")
    s.add_argument(
        "exp",
        help="a separator: a shipped name (upit, voicefilter_mirnet, ...), an experiment dir or model file",
    )
    source = s.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--mixtures", help="a mixture list of mirnet prepare wsj0-2mix|libri2mix (.jsonl), scored whole"
    )
    _setting_options(s, MixtureSetting, data_group=source)
    s.add_argument("--json", help="write the result here")
    s.add_argument(
        "--csv", help="write one row per mixture here: its speakers, SIR, every metric and improvement"
    )
    s.add_argument("--no-pesq", action="store_true", help="skip PESQ and STOI (the slow metrics)")
    s.add_argument(
        "--conditioner",
        help="condition on this embedder (dir or resemblyzer) instead of the one the "
        "separator was trained with: what a mismatched embedding space costs",
    )
    s.set_defaults(func=_eval_separation)

    s = sub.add_parser(
        "export", help="ONNX or TorchScript graph: waveforms (B, samples) at 16 kHz -> (B, N, D)"
    )
    s.add_argument(
        "exp", help=f"a model: a shipped name ({', '.join(NAMES)}), an experiment dir or a model file"
    )
    s.add_argument("--format", required=True, help="onnx or torchscript (a bad one: one line naming both)")
    s.add_argument("--out", help="output file (default: beside the model file, .onnx or .torchscript.pt)")
    s.set_defaults(func=_export)

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

    s = sub.add_parser("plot", help="figures: t-SNE (paper Fig. 3), attention (Fig. 2), training curves")
    s.add_argument("kind", choices=("tsne", "attention", "curves"))
    s.add_argument("exp")
    s.add_argument("--data", help="corpus for tsne/attention")
    s.add_argument("--out", required=True, help="output PNG (tsne: prefix of two PNGs)")
    s.add_argument("--seed", type=_typed(Seed), default=0, help="random seed")
    s.add_argument("--n-plot-speakers", type=_typed(Size), default=20, help="speakers drawn in the t-SNE")
    s.set_defaults(func=_plot)

    s = sub.add_parser("report", help="score systems side by side on the same trials -> OUT/REPORT.md")
    s.add_argument(
        "systems",
        nargs="+",
        help="experiment dirs, model files or peers (resemblyzer), as PATH or "
        "LABEL=PATH; the first is the system the report is about",
    )
    s.add_argument("--data", required=True, help="evaluation corpus (unseen speakers)")
    s.add_argument("--out", required=True)
    s.add_argument(
        "--seen", help="corpus of the training speakers: the first system on its held-out utterances"
    )
    s.add_argument("--trials", type=_typed(Size), default=1000, help="trials of the headline evaluation")
    s.add_argument(
        "--compare-trials", type=_typed(Size), help="trials of the all-systems table (default: --trials)"
    )
    s.add_argument("--sweep-trials", type=_typed(Size), help="trials per sweep point (default: --trials)")
    s.add_argument(
        "--clean-trials", type=_typed(Size), help="trials of the headline's clean rows (default: --trials)"
    )
    s.add_argument(
        "--sweep",
        nargs="*",
        help="axes to sweep, AXIS or AXIS=v1,v2: sir, overlap, crop, speakers "
        "(default: all at the issue's values; --sweep alone: none)",
    )
    s.add_argument(
        "--conditions",
        nargs="+",
        choices=CONDITION_NAMES,
        help="default: all (cascade only with --separator)",
    )
    s.add_argument("--separator", help="the separator of the cascade condition (experiment dir)")
    s.add_argument("--seed", type=_typed(Seed), default=0, help="random seed")
    s.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine", help="the score: -distance")
    s.add_argument(
        "--score-norm",
        choices=SCORE_NORMS,
        help="normalise every score against each system's cohort, drawn from --seen's utterances the "
        "system did not hold out (as mirnet cohort --training-only): AS-norm, or the cohort's mean",
    )
    s.add_argument(
        "--top-k", type=_typed(Size), default=TOP_K, help="cohort scores each side is normalised by (asnorm)"
    )
    precision_option(s)
    s.add_argument("--train-run", help="experiment dir of a training run to chart")
    s.add_argument(
        "--curve",
        action="append",
        default=[],
        metavar="[LABEL=]RUN",
        help="score every epoch model RUN kept: mixture EER against training time (repeatable)",
    )
    s.add_argument("--no-paper-figures", action="store_true", help="skip t-SNE and attention figures")
    s.add_argument(
        "--separator-systems",
        nargs="+",
        default=[],
        metavar="SEP",
        help="separators (experiment dirs or model files, PATH or LABEL=PATH) scored side by side on the "
        "same mixtures: SDRi, SI-SDRi, PESQi, STOIi, spectrograms and example WAVs",
    )
    s.add_argument(
        "--separation-mixtures",
        type=_typed(Size),
        help="mixtures per separation table (default: 100), the same for every separator",
    )
    s.add_argument(
        "--recorded",
        metavar="DIR",
        help="recorded voices none of the systems trained on (mirnet corpus recorded OUT: OUT/unseen): "
        "every system's mixture and clean EER, raw and normalised, and every separator, beside --data's",
    )
    s.add_argument(
        "--recorded-trials",
        type=_typed(Size),
        help="trials of --recorded and of --data in that section, mixture and clean (default: --compare-trials)",
    )
    s.add_argument(
        "--conversations",
        metavar="DIR",
        help="conversations (mirnet corpus conversation) every system diarizes: DER, JER, overlap, count",
    )
    s.add_argument(
        "--conversations-tune", metavar="DIR", help="conversations of seen voices the diarization is tuned on"
    )
    s.set_defaults(func=_report)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extra = parser.parse_known_args(argv)
    args.argv = argv
    # argparse cannot take positionals after an option (`train CFG EXP --resume a.b=1`): overrides
    # are recognised by their '=' wherever they stand
    if extra and args.command == "train" and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from .train.distributed import is_main_process

    level = logging.DEBUG if args.verbose else logging.INFO if is_main_process() else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    keep_freed_memory()  # every verb moves large tensors: ~30% of a separator's CPU was page faults

    try:
        args.func(args)
    except (MirnetError, OSError) as exc:  # OSError: a user's path that is missing, unwritable, already there
        if args.debug:
            raise
        print(f"mirnet: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
