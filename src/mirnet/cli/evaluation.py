"""``mirnet eval``, ``cohort``, ``eval-probes``, ``eval-separation``, ``plot`` and ``report``: the
commands that measure systems on drawn trials or mixtures, and draw or write up what they measured."""

from __future__ import annotations

import json
import shlex
import sys

from ..arguments import Positive, Ratio, Seed, Size
from ..atomic import write_text
from ..errors import InputError
from ..eval import COHORT_MIXTURES, CONDITION_NAMES, SCORE_NORMS, TOP_K
from ..eval.setting import MixtureSetting, TrialSetting
from .common import SEPARATOR_HELP, SYSTEM_HELP, check_output, precision_option, progress_of, typed

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
                type=typed(kind),
                default=getattr(setting, key),
                help=text,
            )


def _print_json(result: dict, path: str | None) -> None:
    """The result as JSON on stdout, and in ``path`` (``--json``) if given."""
    text = json.dumps(result, indent=1)
    if path:
        write_text(path, text + "\n")
    print(text)


def add_eval(sub) -> None:
    s = sub.add_parser("eval", help="mixture speaker verification EER (paper 4.1.2)")
    s.add_argument("exp", help=SYSTEM_HELP)
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
        "--top-k", type=typed(Size), default=TOP_K, help="cohort scores each side is normalised by (asnorm)"
    )
    precision_option(s)
    s.set_defaults(func=_eval)


def _eval(a):
    from ..eval.evaluate import evaluate

    check_output(a.json)
    check_output(a.scores)

    result = evaluate(
        a.exp,
        TrialSetting(**{key: getattr(a, key) for key in TrialSetting.FLAGS}),
        metric=a.metric,
        condition=a.condition,
        trial_list=a.trial_list,
        scores_file=a.scores,
        progress=progress_of(a),
        separator=a.separator,
        precision=a.precision,
        cohort=a.cohort,
        top_k=a.top_k,
        score_norm=a.score_norm,
    )
    _print_json(result, a.json)
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


def add_cohort(sub) -> None:
    s = sub.add_parser(
        "cohort",
        help="the embeddings a model gives mixtures of its training voices: the cohort of eval --cohort",
    )
    s.add_argument("exp", help=SYSTEM_HELP)
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


def _cohort(a):
    from ..eval.evaluate import write_cohort

    check_output(a.out)

    setting = MixtureSetting(**{key: getattr(a, key) for key in MixtureSetting.FLAGS})
    path, n = write_cohort(a.exp, setting, a.out, a.precision, a.training_only)
    print(f"{path}: {n} embeddings of {a.n} mixtures of {a.data}")


def add_eval_probes(sub) -> None:
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
    s.add_argument("--seconds", type=typed(Positive), default=3.0, help="of each utterance, from its start")
    s.add_argument("--json", help="write the result here")
    precision_option(s)
    s.set_defaults(func=_eval_probes)


def _eval_probes(a):
    from ..corpus import open_corpus
    from ..eval.evaluate import load_system
    from ..eval.probes import probe_attributes

    check_output(a.json)

    train, test = open_corpus(a.train), open_corpus(a.data)
    result = {}
    for exp in a.exp:
        embed, _ = load_system(exp, a.precision)
        result[exp] = probe_attributes(embed, train, test, a.attributes, a.seconds, progress=progress_of(a))
    _print_json(result, a.json)


def add_eval_separation(sub) -> None:
    s = sub.add_parser("eval-separation", help="SDRi, SI-SDRi, PESQ, STOI of a separator on fixed mixtures")
    s.add_argument("exp", help=SEPARATOR_HELP)
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


def _eval_separation(a):
    from ..eval.separation import evaluate_separation

    check_output(a.json)

    drawn = None if a.data is None else MixtureSetting(**{k: getattr(a, k) for k in MixtureSetting.FLAGS})
    result = evaluate_separation(
        a.exp,
        drawn,
        a.mixtures,
        seed=a.seed,
        csv_file=a.csv,
        pesq_stoi=not a.no_pesq,
        conditioner=a.conditioner,
        progress=progress_of(a),
    )
    _print_json(result, a.json)


def add_plot(sub) -> None:
    s = sub.add_parser("plot", help="figures: t-SNE (paper Fig. 3), attention (Fig. 2), training curves")
    s.add_argument("kind", choices=("tsne", "attention", "curves"))
    s.add_argument("exp")
    s.add_argument("--data", help="corpus for tsne/attention")
    s.add_argument("--out", required=True, help="output PNG (tsne: prefix of two PNGs)")
    s.add_argument("--seed", type=typed(Seed), default=0, help="random seed")
    s.add_argument("--n-plot-speakers", type=typed(Size), default=20, help="speakers drawn in the t-SNE")
    s.set_defaults(func=_plot)


def _plot(a):
    from ..eval import figures

    if a.kind != "curves" and a.data is None:
        raise InputError(f"plot {a.kind}: needs --data, the corpus to draw mixtures from")
    if a.kind == "tsne":
        paths = figures.tsne_figures(a.exp, a.data, a.out, n_speakers=a.n_plot_speakers, seed=a.seed)
    elif a.kind == "attention":
        paths = [figures.attention_figure(a.exp, a.data, a.out, seed=a.seed)]
    else:
        paths = [figures.training_curve_figure(a.exp, a.out)]
    print("\n".join(map(str, paths)))


def add_report(sub) -> None:
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
    s.add_argument("--trials", type=typed(Size), default=1000, help="trials of the headline evaluation")
    s.add_argument(
        "--compare-trials", type=typed(Size), help="trials of the all-systems table (default: --trials)"
    )
    s.add_argument("--sweep-trials", type=typed(Size), help="trials per sweep point (default: --trials)")
    s.add_argument(
        "--clean-trials", type=typed(Size), help="trials of the headline's clean rows (default: --trials)"
    )
    s.add_argument(
        "--sweep",
        nargs="*",
        help="axes to sweep, AXIS or AXIS=v1,v2: sir, overlap, crop, speakers "
        "(default: all four at the values of the published sweeps; --sweep alone: none)",
    )
    s.add_argument(
        "--conditions",
        nargs="+",
        choices=CONDITION_NAMES,
        help="default: all (cascade only with --separator)",
    )
    s.add_argument("--separator", help="the separator of the cascade condition (experiment dir)")
    s.add_argument("--seed", type=typed(Seed), default=0, help="random seed")
    s.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine", help="the score: -distance")
    s.add_argument(
        "--score-norm",
        choices=SCORE_NORMS,
        help="normalise every score against each system's cohort, drawn from --seen's utterances the "
        "system did not hold out (as mirnet cohort --training-only): AS-norm, or the cohort's mean",
    )
    s.add_argument(
        "--top-k", type=typed(Size), default=TOP_K, help="cohort scores each side is normalised by (asnorm)"
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
        type=typed(Size),
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
        type=typed(Size),
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


# the report plan's fields, as `mirnet report`'s options name them: a refused plan is worded in these
_REPORT_FLAGS = {
    "out": "--out",
    "data": "--data",
    "seen": "--seen",
    "trials": "--trials",
    "compare_trials": "--compare-trials",
    "sweep_trials": "--sweep-trials",
    "clean_trials": "--clean-trials",
    "sweeps": "--sweep",
    "conditions": "--conditions",
    "separator": "--separator",
    "seed": "--seed",
    "metric": "--metric",
    "score_norm": "--score-norm",
    "top_k": "--top-k",
    "precision": "--precision",
    "train_run": "--train-run",
    "curves": "--curve",
    "paper_figures": "--no-paper-figures",
    "separators": "--separator-systems",
    "separation_mixtures": "--separation-mixtures",
    "recorded": "--recorded",
    "recorded_trials": "--recorded-trials",
}


def _report(a):
    from ..eval.report import PlanError, ReportPlan, write_report
    from ..eval.report.systems import parse_systems

    sections = []
    if a.conversations:
        from ..apps.diarization_scoring import read_conversations, report_section

        for folder in filter(None, (a.conversations, a.conversations_tune)):
            read_conversations(folder)  # a wrong folder is refused now, not after hours of scoring
        systems = [(s.label, s.path) for s in parse_systems(a.systems)]
        sections.append(
            lambda out, cohorts: report_section(
                out, systems, a.conversations, a.conversations_tune, progress=progress_of(a), cohorts=cohorts
            )
        )
    elif a.conversations_tune:
        raise InputError("--conversations-tune tunes the diarization of --conversations: give both")
    try:
        plan = ReportPlan(
            out=a.out,
            systems=a.systems,
            data=a.data,
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
            progress=progress_of(a),
        )
        print(write_report(plan))  # the recorded split is checked here, before anything is scored
    except PlanError as e:
        raise InputError(e.worded(_REPORT_FLAGS)) from None
