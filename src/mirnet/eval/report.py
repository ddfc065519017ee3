"""`mirnet report`: every system scored side by side on the same trial lists, in one run, and
written up as REPORT.md with the command behind each number.

The report is a plan of evaluations: a *setting* (corpus, trial count, SIR, overlap, crop,
speakers, seed) fixes one trial list that every system and condition under it is scored on.
Results (JSON) and trial scores (``.npz``) are cached under ``OUT/evals`` and reused only when
the system file and the trial list are unchanged, so an interrupted report resumes where it
stopped and adding a system re-scores nothing else. Separators are scored the same way, on
mixtures drawn once per *separation setting*, cached under ``OUT/evals/separation``.
"""

from __future__ import annotations

import csv
import json
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..api import load_separator
from ..atomic import write_text
from ..audio import save_audio
from ..checkpoint import git_commit, read_bundle
from ..corpus import open_corpus
from ..corpus.manifest import Manifest
from ..data.mixing import MixingConfig
from ..errors import InputError
from .evaluate import cascade_fingerprint, evaluate, system_fingerprint, system_precision
from .metrics import det_points
from .peers import PEERS
from .protocol import CONDITIONS
from .separation import drawn_mixtures, evaluate_separation, match, separate
from .trials import trial_list_sha1

# sweep axis (CLI name) -> (Setting field, values scored, axis label); the grid
SWEEPS = {
    "sir": ("sir_db", (-5.0, 0.0, 5.0), "SIR of the first source (dB)"),
    "overlap": ("overlap", (0.25, 0.5, 1.0), "overlap ratio"),
    "crop": ("crop_seconds", (1.0, 2.0, 3.0, 5.0), "mixture length (s)"),
    "speakers": ("n_speakers", (2, 3), "speakers per mixture"),
}
SEPARATION_MIXTURES = 100  # per separation table
EXAMPLE_MIXTURES = (
    2  # first mixtures of the unseen setting written out as WAVs; the first also as spectrograms
)
ENROLL_SECONDS = 3.0  # an enrolled separator's enrollment crops, as `mirnet eval-separation` takes them
# (result key, column, decimals) of a separation table: the improvements, then how good the outputs are
SEPARATION_COLUMNS = (
    ("sdri", "SDRi (dB)", 2),
    ("si_sdri", "SI-SDRi (dB)", 2),
    ("pesqi", "PESQi", 2),
    ("stoii", "STOIi", 3),
    ("si_sdr", "SI-SDR (dB)", 2),
)


@dataclass(frozen=True)
class Setting:
    """How one trial list is drawn; everything scored under a setting shares its trials."""

    data: str
    trials: int
    seed: int = 0
    heldout: bool = False
    sir_db: float = 0.0
    overlap: float = 1.0
    crop_seconds: float = 3.0
    n_speakers: int = 2

    @property
    def name(self) -> str:
        corpus = Path(self.data).name + ("-heldout" if self.heldout else "")
        return (
            f"{corpus}_n{self.trials}_seed{self.seed}_sir{self.sir_db:g}_overlap{self.overlap:g}"
            f"_crop{self.crop_seconds:g}_spk{self.n_speakers}"
        )


@dataclass(frozen=True)
class System:
    label: str
    path: str

    @property
    def is_peer(self) -> bool:
        return self.path in PEERS


def parse_systems(specs: Sequence[str], noun: str = "system") -> list[System]:
    """``LABEL=PATH`` or ``PATH`` (labelled by its folder, or a peer's name); labels must differ
    because they name the result folders and the table rows. ``noun`` names them in errors."""
    systems = []
    for spec in specs:
        label, _, path = spec.rpartition("=")
        if not label:
            p = Path(path)
            label = path if path in PEERS else (p.parent.name if p.suffix == ".pt" else p.name)
        systems.append(System(label, path))
    labels = [s.label for s in systems]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise InputError(f"{noun}s share the label(s) {', '.join(dupes)}; name them LABEL=PATH")
    if not systems:
        raise InputError(f"no {noun} to report on")
    return systems


def epoch_models(run: str | Path) -> list[tuple[int, float, Path]]:
    """(epoch, minutes trained, model file) for every epoch a run kept (``train.keep_epoch_models``),
    the minutes read from its ``epochs.csv``."""
    run = Path(run)
    files = {int(f.stem[len("epoch") :]): f for f in sorted((run / "epochs").glob("epoch*.pt"))}
    if not files:
        raise InputError(f"{run}: no epochs/epoch*.pt to score (train with train.keep_epoch_models=true)")
    try:
        with (run / "epochs.csv").open() as f:
            minutes = {int(r["epoch"]): float(r["elapsed_s"]) / 60 for r in csv.DictReader(f)}
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{run / 'epochs.csv'}: cannot read the training times ({exc})") from None
    return [(epoch, minutes[epoch], f) for epoch, f in files.items() if epoch in minutes]


def parse_sweeps(specs: Sequence[str] | None) -> dict[str, tuple]:
    """``None`` -> the full grid; ``["sir=-5,5", "crop"]`` -> those axes (a bare name: its
    default values); ``[]`` -> no sweeps."""
    if specs is None:
        return {k: v[1] for k, v in SWEEPS.items()}
    out = {}
    for spec in specs:
        axis, _, values = spec.partition("=")
        if axis not in SWEEPS:
            raise InputError(f"--sweep {spec}: unknown axis {axis!r}; choose from {', '.join(SWEEPS)}")
        kind = type(SWEEPS[axis][1][0])
        try:
            out[axis] = tuple(kind(v) for v in values.split(",")) if values else SWEEPS[axis][1]
        except ValueError:
            raise InputError(f"--sweep {spec}: values must be {kind.__name__}s separated by commas") from None
    return out


class Runner:
    """Scores (system, setting, condition), or returns the cached result of the very same
    system on the very same trial list."""

    def __init__(
        self, out: Path, metric: str = "cosine", progress: bool = True, separator: str | None = None
    ):
        self.out, self.metric, self.progress, self.separator = out, metric, progress, separator
        self._fingerprints: dict[str, str] = {}

    def trial_list(self, setting: Setting) -> Path:
        return self.out / "trials" / f"{setting.name}.json"

    def fingerprint(self, system: System) -> str:
        if system.path not in self._fingerprints:
            self._fingerprints[system.path] = system_fingerprint(system.path)
        return self._fingerprints[system.path]

    def _paths(self, label: str, setting_name: str, condition: str) -> tuple[Path, Path]:
        """Where a result (JSON) and its trial scores (``.npz``) live. Suffixes are appended, not
        swapped in with ``with_suffix``: a setting name holds dots (``overlap0.25``)."""
        stem = f"{setting_name}_{condition}"
        return self.out / "evals" / label / f"{stem}.json", self.out / "evals" / label / f"{stem}.npz"

    def result(self, system: System, setting: Setting, condition: str) -> dict:
        (json_path, npz_path), trials = (
            self._paths(system.label, setting.name, condition),
            self.trial_list(setting),
        )
        separator = self.separator if condition == "cascade" else None
        if json_path.exists() and npz_path.exists() and trials.exists():
            try:
                cached = json.loads(json_path.read_text())
            except json.JSONDecodeError:
                cached = {}
            found = ("system", "trial_list_sha1", "metric")
            if (*(cached.get(k) for k in found), cached.get("precision", "fp32")) == (
                cascade_fingerprint(self.fingerprint(system), separator),
                trial_list_sha1(trials),
                self.metric,
                system_precision(system.path),  # a result of bf16 on an AMX machine is not fp32's
            ):
                return cached
        r = evaluate(
            system.path,
            setting.data,
            trials=setting.trials,
            sir_db=setting.sir_db,
            seed=setting.seed,
            metric=self.metric,
            condition=condition,
            crop_seconds=setting.crop_seconds,
            n_speakers=setting.n_speakers,
            overlap=setting.overlap,
            trial_list=trials,
            heldout=setting.heldout,
            scores_file=npz_path,
            progress=self.progress,
            system=self.fingerprint(system),
            separator=separator,
        )
        r["label"] = system.label
        write_text(json_path, json.dumps(r, indent=1) + "\n")
        return r

    def det(self, r: dict) -> tuple[np.ndarray, np.ndarray]:
        """DET points of a result ``result`` returned, from its saved scores."""
        with np.load(self._paths(r["label"], Path(r["trial_list"]).stem, r["condition"])[1]) as z:
            return det_points(z["scores"], z["labels"])


@dataclass(frozen=True)
class SeparationSetting:
    """How one list of mixtures is drawn: mixture i from rng (seed, i), so every separator scored
    under a setting hears the very same mixtures."""

    data: str
    n: int
    seed: int = 0
    heldout: bool = False
    sir_db: float = 0.0
    crop_seconds: float = 3.0
    n_speakers: int = 2
    pesq_stoi: bool = True

    @property
    def name(self) -> str:
        corpus = Path(self.data).name + ("-heldout" if self.heldout else "")
        return f"{corpus}_n{self.n}_seed{self.seed}_sir{self.sir_db:g}_crop{self.crop_seconds:g}_spk{self.n_speakers}"

    def mixing(self) -> MixingConfig:
        """The mixing ``evaluate_separation`` draws with, to draw its mixtures again here."""
        return MixingConfig(self.n_speakers, self.crop_seconds, (self.sir_db, self.sir_db), (1.0, 1.0))


class SeparationRunner:
    """Scores (separator, setting), or returns the cached result of the very same separator file
    on the very same mixtures: same settings, and a corpus of the same utterances."""

    def __init__(self, out: Path, progress: bool = True):
        self.out, self.progress = out, progress
        self._manifests: dict[str, Manifest] = {}
        self._fingerprints: dict[str, str] = {}

    def manifest(self, data: str) -> Manifest:
        if data not in self._manifests:
            self._manifests[data] = open_corpus(data)
        return self._manifests[data]

    def paths(self, label: str, setting: SeparationSetting) -> tuple[Path, Path]:
        """Where a result (JSON) and its per-mixture scores (CSV) live."""
        folder = self.out / "evals" / "separation" / label
        return folder / f"{setting.name}.json", folder / f"{setting.name}.csv"

    def result(self, system: System, setting: SeparationSetting) -> dict:
        json_path, csv_path = self.paths(system.label, setting)
        if system.path not in self._fingerprints:
            self._fingerprints[system.path] = system_fingerprint(system.path)
        key = {
            "system": self._fingerprints[system.path],
            "settings": {**asdict(setting), "corpus": self.manifest(setting.data).fingerprint()},
        }
        if json_path.exists() and csv_path.exists():
            try:
                cached = json.loads(json_path.read_text())
            except json.JSONDecodeError:
                cached = {}
            if {k: cached.get(k) for k in key} == key:
                return cached
        r = evaluate_separation(
            system.path,
            setting.data,
            n=setting.n,
            n_speakers=setting.n_speakers,
            sir_db=setting.sir_db,
            crop_seconds=setting.crop_seconds,
            seed=setting.seed,
            heldout=setting.heldout,
            enroll_seconds=ENROLL_SECONDS,
            csv_file=csv_path,
            pesq_stoi=setting.pesq_stoi,
            progress=self.progress,
        )
        r.update(label=system.label, **key)
        write_text(json_path, json.dumps(r, indent=1) + "\n")
        return r


def separation_command(r: dict) -> str:
    s = r["settings"]
    parts = [
        f"mirnet eval-separation {r['separator']} --data {s['data']}",
        f"--n {s['n']}",
        f"--speakers {s['n_speakers']}",
        f"--sir {s['sir_db']:g}",
        f"--crop {s['crop_seconds']:g}",
        f"--seed {s['seed']}",
    ]
    if s["heldout"]:
        parts.append("--heldout")
    if not s["pesq_stoi"]:
        parts.append("--no-pesq")
    return " ".join(parts)


def eval_command(r: dict) -> str:
    parts = [
        f"mirnet eval {r['model']} --data {r['data']}",
        f"--trials {r['trials']}",
        f"--sir {r['sir_db']:g}",
        f"--overlap {r.get('overlap', 1.0):g}",
        f"--crop {r['crop_seconds']:g}",
        f"--speakers {r.get('n_speakers', 2)}",
        f"--seed {r['seed']}",
        f"--metric {r['metric']}",
        f"--condition {r['condition']}",
    ]
    if r.get("separator"):
        parts.append(f"--separator {r['separator']}")
    if r.get("heldout"):
        parts.append("--heldout")
    if r.get("trial_list"):
        parts.append(f"--trial-list {r['trial_list']}")
    return " ".join(parts)


def _cell(r: dict | None, ci: bool = True) -> str:
    if r is None:
        return "–"
    text = f"**{r['eer']:.1f}**"
    if ci:
        text += f" ({r['eer_ci'][0]:.1f}–{r['eer_ci'][1]:.1f})"
    return f"{text} / {r['min_dcf']:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(row) + " |" for row in rows],
    ]


def _system_rows(systems: Sequence[System], run: Runner) -> list[list[str]]:
    rows = []
    for s in systems:
        if s.is_peer:
            rows.append([s.label, f"pretrained peer `{s.path}` ({run.fingerprint(s)})", "1", "–", "–"])
            continue
        b = read_bundle(s.path)
        params = sum(
            v.numel() for k, v in b["state_dict"].items() if v.dtype.is_floating_point and "running" not in k
        )
        prog, data = b.get("progress", {}), b.get("data", {})
        trained = (
            f"{prog.get('epoch', '?')} epochs, {float(prog.get('elapsed_s', 0)) / 60:.0f} min "
            f"on `{data.get('source')}` "
            f"({data.get('speakers')} speakers, fingerprint `{data.get('fingerprint')}`)"
        )
        rows.append(
            [
                s.label,
                f"`{s.path}`: {b['model']['name']}, {params / 1e6:.2f} M parameters",
                str(b["model"]["args"].get("n_speakers", 1)),
                trained,
                f"`{(b.get('git_commit') or '?')[:10]}`",
            ]
        )
    return rows


def _interval(summary: dict | None, digits: int) -> str:
    if not summary or not summary.get("n"):
        return "–"
    mean, low, high = (
        round(v, digits) + 0.0 for v in (summary["mean"], *summary["mean_ci"])
    )  # + 0.0: no "-0.00"
    text = f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    return text + (f" ({summary['unscored']} unscored)" if summary.get("unscored") else "")


def _examples(out: Path, loaded: dict, setting: SeparationSetting, manifest: Manifest) -> list[str]:
    """The first mixtures of ``setting`` as every separator hears them: WAVs to listen to, and the
    first as spectrograms, outputs matched to the references as they were scored."""
    from . import plots

    enroll = ENROLL_SECONDS if any(sep.mode == "enrolled" for sep in loaded.values()) else 0.0
    items = list(
        drawn_mixtures(manifest, min(EXAMPLE_MIXTURES, setting.n), setting.mixing(), setting.seed, enroll)
    )
    outputs = {}
    for label, sep in loaded.items():
        outputs[label] = [
            (e if sep.mode == "enrolled" else match(e, torch.from_numpy(item.references))).numpy()
            for e, item in zip(separate(sep, items), items)
        ]
    lines = []
    for i, item in enumerate(items):
        folder = out / "examples" / f"mixture{item.id}"
        files = [
            save_audio(folder / "mixture.wav", item.mixture),
            *[save_audio(folder / f"reference{k + 1}.wav", ref) for k, ref in enumerate(item.references)],
        ]
        files += [
            save_audio(folder / f"{label}.speaker{k + 1}.wav", wav)
            for label, est in outputs.items()
            for k, wav in enumerate(est[i])
        ]
        links = ", ".join(f"[{f.name}]({f.relative_to(out)})" for f in files)
        lines.append(
            f"- `examples/mixture{item.id}/` (mixture {item.id}, speakers {', '.join(item.speakers)}): "
            f"{links}"
        )
    first = items[0]
    refs = list(first.references)
    figure = plots.plot_spectrogram_grid(
        {
            "mixture / references": [first.mixture, *refs],
            **{f"{label} ({loaded[label].mode})": [None, *est[0]] for label, est in outputs.items()},
        },
        ["mixture", *[f"speaker {k + 1}" for k in range(len(refs))]],
        out / "figures" / "separation_spectrograms.png",
        f"{Path(setting.data).name}, mixture {first.id}: speakers {', '.join(first.speakers)}",
    )
    return [
        f"**Log-magnitude spectrograms of mixture {first.id}**: the mixture and its references, then each "
        "separator's outputs under the reference each was scored against.",
        "",
        f"![{figure.stem}]({figure.relative_to(out)})",
        "",
        f"Listen: the first {len(items)} mixtures of the {Path(setting.data).name} table, each with its "
        "references and every separator's outputs (speakerK matched to referenceK).",
        "",
        *lines,
        "",
    ]


def _separation_section(
    out: Path,
    separators: Sequence[System],
    loaded: dict,
    data: str,
    seen: str | None,
    n: int,
    seed: int,
    pesq_stoi: bool,
    progress: bool,
) -> list[str]:
    """Every separator on the same mixtures of ``data`` (and of ``seen``'s utterances each held
    out of training), one table per corpus, with the command behind each row."""
    run = SeparationRunner(out, progress)
    base = SeparationSetting(data, n, seed, pesq_stoi=pesq_stoi)
    settings = [(f"{Path(data).name}: unseen speakers", base)]
    if seen is not None:
        settings.append(
            (
                f"{Path(seen).name}: held-out utterances of the training speakers",
                replace(base, data=seen, heldout=True),
            )
        )
    lines = [
        "## Separation (paper section 4.2)",
        "",
        f"Every separator in a table heard the very same {n} mixtures (mixture i drawn from rng ({seed}, i)): "
        f"{base.n_speakers} speakers at {base.sir_db:g} dB, fully overlapped, {base.crop_seconds:g} s. Outputs "
        "are matched to the references by SI-SDR, except an enrolled separator's: output k is meant to be "
        f"enrollment k's speaker (enrolled on {ENROLL_SECONDS:g} s of another of their utterances). Cells: mean "
        "[95% bootstrap interval over the mixtures] of the per-mixture mean over sources; SDRi, SI-SDRi and "
        "SI-SDR in dB, PESQi in wide-band PESQ (MOS-LQO) points, STOIi in STOI points (0-1); mode: "
        "`independent` uPIT, `mixture` conditioned on the embedder's identities of the mixture, `enrolled` on "
        "enrolled references. Per-mixture scores: `evals/separation/LABEL/SETTING.csv`.",
        "",
    ]
    for where, setting in settings:
        results, unrecorded = [], []
        for s in separators:
            if setting.heldout and not loaded[s.label].bundle.get("data", {}).get("heldout"):
                unrecorded.append(s.label)
            else:
                results.append(run.result(s, setting))
        lines += [f"### {where} ({setting.n} mixtures)", ""]
        if results:
            rows = [
                [
                    r["label"],
                    r["mode"],
                    *[_interval(r["metrics"].get(k), d) for k, _, d in SEPARATION_COLUMNS],
                ]
                for r in results
            ]
            lines += [
                *_table(["separator", "mode", *[c for _, c, _ in SEPARATION_COLUMNS]], rows),
                "",
                "```",
                *[separation_command(r) for r in results],
                "```",
                "",
            ]
        if unrecorded:
            lines += [
                f"Not scored here: {', '.join(unrecorded)} (the model file records no held-out utterances).",
                "",
            ]
    return lines + _examples(out, loaded, base, run.manifest(base.data))


def _last_row(csv_path: Path) -> dict:
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else {}


def _versions(systems: Sequence[System]) -> str:
    parts = [
        f"mirnet {__version__} (commit `{(git_commit() or '?')[:10]}`)",
        f"torch {torch.__version__}",
        f"numpy {np.__version__}",
    ]
    for name in {s.path for s in systems if s.is_peer}:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts) + (
        f"; Python {platform.python_version()}, {platform.machine()}, {torch.get_num_threads()} torch threads"
    )


def write_report(
    out_dir: str | Path,
    systems: Sequence[str],
    data: str | Path,
    *,
    seen: str | Path | None = None,
    trials: int = 1000,
    compare_trials: int | None = None,
    sweep_trials: int | None = None,
    conditions: Sequence[str] | None = None,
    separator: str | Path | None = None,
    sweeps: Sequence[str] | None = None,
    seed: int = 0,
    metric: str = "cosine",
    train_run: str | Path | None = None,
    curves: Sequence[str] = (),
    paper_figures: bool = True,
    separators: Sequence[str] = (),
    separation_mixtures: int | None = None,
    separation_pesq_stoi: bool = True,
    sections: Sequence[Callable[[Path], list[str]]] = (),
    command: str = "",
    progress: bool = True,
) -> Path:
    """Score ``systems`` (first = the system the report is about) and write ``OUT/REPORT.md``.

    - headline: the first system on ``trials`` trials of ``data`` (and of ``seen`` held-out
      utterances), mixture and clean;
    - all systems x ``conditions`` on one ``compare_trials`` list, with DET curves (default: every
      condition; ``cascade``, behind ``separator``, only when one is given);
    - all systems, mixture condition, along each sweep axis on ``sweep_trials`` lists;
    - for each run in ``curves`` (``[LABEL=]RUN``), every epoch it kept, mixture condition on the
      comparison trials: EER against training time;
    - every separator in ``separators`` (``[LABEL=]PATH``) on the same ``separation_mixtures``
      mixtures (default 100) of ``data`` (and of ``seen``'s held-out utterances), with
      spectrograms and WAVs of the first mixtures; ``separation_pesq_stoi=False`` skips the two
      slow metrics;
    - each of ``sections``, called with ``out``: markdown lines of a section composed above this
      layer (the diarization section of ``apps.diarization_scoring.report_section``).
    """

    from . import figures, plots

    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    systems_, axes = parse_systems(systems), parse_sweeps(sweeps)
    if conditions is None:
        conditions = [c for c in CONDITIONS if c != "cascade" or separator is not None]
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        raise InputError(f"unknown condition(s) {', '.join(bad)}; choose from {', '.join(CONDITIONS)}")
    if ("cascade" in conditions) != (separator is not None):
        raise InputError("the cascade condition needs --separator SEP, and --separator is only for it")
    primary, run = systems_[0], Runner(out, metric, progress, None if separator is None else str(separator))
    data = str(data)
    # separators first: a wrong file is refused, and their scores computed, before hours of embedding
    separators_ = parse_systems(separators, "separator") if separators else []
    loaded = {s.label: load_separator(s.path) for s in separators_}
    separation = (
        _separation_section(
            out,
            separators_,
            loaded,
            data,
            None if seen is None else str(seen),
            separation_mixtures or SEPARATION_MIXTURES,
            seed,
            separation_pesq_stoi,
            progress,
        )
        if separators_
        else []
    )
    base = Setting(data, trials, seed)
    compare = replace(base, trials=compare_trials or trials)
    sweep_base = replace(base, trials=sweep_trials or trials)
    figs: list[tuple[str, Path]] = []
    used: dict[str, Setting] = {}
    results: list[dict] = []

    def score(system: System, setting: Setting, condition: str) -> dict:
        used[setting.name] = setting
        r = run.result(system, setting, condition)
        results.append(r)
        return r

    # headline
    head_rows = []
    settings = [(Path(data).name, base)]
    if seen is not None and not primary.is_peer:  # held-out utterances are those the model's bundle lists
        settings.append(
            (f"{Path(seen).name}, held-out utterances", replace(base, data=str(seen), heldout=True))
        )
    for where, setting in settings:
        for cond in ("mixture", "clean"):
            r = score(primary, setting, cond)
            name = f"eval_{Path(setting.data).name}{'' if cond == 'mixture' else '_' + cond}.json"
            write_text(out / name, json.dumps(r, indent=1) + "\n")  # the headline numbers, one file each
            head_rows.append([where, cond, str(r["trials"]), str(r["speakers"]), _cell(r)])
    # all systems, all conditions, same trials
    compared = {(s.label, c): score(s, compare, c) for s in systems_ for c in conditions}
    if "mixture" in conditions:
        figs.append(
            (
                "DET, mixture condition, all systems",
                plots.plot_det(
                    {s.label: run.det(compared[s.label, "mixture"]) for s in systems_},
                    out / "figures" / "det_mixture.png",
                    "DET: mixture condition (same trials)",
                ),
            )
        )
    figs.append(
        (
            f"DET, every condition of {primary.label}",
            plots.plot_det(
                {c: run.det(compared[primary.label, c]) for c in conditions},
                out / "figures" / f"det_{primary.label}.png",
                f"DET: {primary.label}, every condition (same trials)",
            ),
        )
    )
    # sweeps
    sweep_tables: list[str] = []
    for axis, values in axes.items():
        field, _, axis_label = SWEEPS[axis]
        cells = {
            s.label: [score(s, replace(sweep_base, **{field: v}), "mixture") for v in values]
            for s in systems_
        }
        sweep_tables += [
            f"### EER vs {axis_label}",
            "",
            *_table(
                ["system", *[f"{v:g}" for v in values]],
                [[label, *[_cell(r, ci=False) for r in rs]] for label, rs in cells.items()],
            ),
            "",
        ]
        figs.append(
            (
                f"EER vs {axis_label}",
                plots.plot_sweep(
                    [float(v) for v in values],
                    {label: [r["eer"] for r in rs] for label, rs in cells.items()},
                    out / "figures" / f"sweep_{axis}.png",
                    axis_label,
                ),
            )
        )
    # EER against training time
    curve_rows, curve_points = [], {}
    for c in parse_systems(curves) if curves else []:
        curve_points[c.label] = []
        for epoch, minutes, model in epoch_models(c.path):
            r = score(System(f"{c.label}_epoch{epoch:03d}", str(model)), compare, "mixture")
            curve_points[c.label].append((minutes, r["eer"]))
            curve_rows.append([c.label, str(epoch), f"{minutes:.1f}", _cell(r)])
    if curve_points:
        figs.append(
            (
                "mixture EER against training time",
                plots.plot_eer_vs_time(curve_points, out / "figures" / "eer_vs_time.png", "mixture EER (%)"),
            )
        )
    # the paper's figures for the first system
    if paper_figures and not primary.is_peer:
        prefix = out / "figures" / f"tsne_{primary.label}"
        by_speaker, by_output = figures.tsne_figures(primary.path, data, prefix, seed=seed)
        figs += [
            (f"t-SNE of {primary.label}'s mixture embeddings, colour = speaker (paper Fig. 3a)", by_speaker),
            ("the same, marker = output stream (paper Fig. 3b)", by_output),
        ]
        if read_bundle(primary.path)["model"]["args"].get("n_speakers", 1) > 1:
            figs.append(
                (
                    "attention vs source power (paper Fig. 2)",
                    figures.attention_figure(
                        primary.path, data, out / "figures" / "attention.png", seed=seed
                    ),
                )
            )
        if (Path(primary.path) / "steps.csv").exists():
            figs.append(
                (
                    f"training curves of {primary.label}",
                    figures.training_curve_figure(
                        primary.path, out / "figures" / f"curves_{primary.label}.png"
                    ),
                )
            )
    if train_run and (Path(train_run) / "steps.csv").exists():
        figs.append(
            (
                "training curves of the short run",
                figures.training_curve_figure(train_run, out / "figures" / "curves_train_run.png"),
            )
        )

    lines = [
        f"# mirnet report: {', '.join(s.label for s in systems_)}",
        "",
        f"Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `{command or 'mirnet report'}`.",
        "",
        "Protocol (paper section 4.1.2): anchor A+B, positive A'+C, negative C'+D; distance = min over output "
        f"pairs ({metric}); one target and one non-target score per trial. Cells: **EER %** (95% bootstrap "
        "interval, 1000 stratified resamples) / minDCF (p_target 0.01). Every system in a table was scored on "
        "the same trial list (checksums below).",
        "",
        "## Systems",
        "",
        *_table(["label", "system", "outputs", "trained", "commit"], _system_rows(systems_, run)),
        "",
        f"## {primary.label}: mixture speaker verification",
        "",
        *_table(["data", "condition", "trials", "distinct speakers", "EER % (95% CI) / minDCF"], head_rows),
        "",
    ]
    lines += _ratios(primary, systems_, compared)
    lines += [
        f"## All systems on the same {compare.trials} trials ({Path(data).name}, 0 dB, full overlap, 3 s)",
        "",
        "Conditions: " + "; ".join(_CONDITION_TEXT[c] for c in conditions) + ".",
        "",
        *_table(
            ["system", *conditions],
            [[s.label, *[_cell(compared[s.label, c]) for c in conditions]] for s in systems_],
        ),
        "",
    ]
    if sweep_tables:
        lines += [
            f"## Sweeps: mixture condition, {sweep_base.trials} trials per point",
            "",
            "Each point changes one axis of the base setting (0 dB, full overlap, 3 s, 2 speakers) and draws "
            "its own trial list, shared by all systems. A system with fewer outputs than speakers still "
            "scores min over its output pairs.",
            "",
            *sweep_tables,
        ]
    if curve_rows:
        lines += [
            f"## Mixture EER against training time ({compare.trials} comparison trials)",
            "",
            "Every epoch model each run kept; minutes are its `epochs.csv` elapsed time, validation included.",
            "",
            *_table(["run", "epoch", "minutes", "EER % (95% CI) / minDCF"], curve_rows),
            "",
        ]
    lines += separation
    for section in sections:
        lines += section(out)
    lines += ["## Figures", ""]
    for caption, path in figs:
        lines += [f"**{caption}**", "", f"![{path.stem}]({path.resolve().relative_to(out.resolve())})", ""]
    if train_run:
        last = _last_row(Path(train_run) / "epochs.csv") if (Path(train_run) / "epochs.csv").exists() else {}
        lines += [
            "## Short training run",
            "",
            f"`{train_run}`: {last.get('epoch', '?')} epochs, {last.get('step', '?')} steps in "
            f"{float(last.get('elapsed_s', 0)) / 60:.1f} min; "
            f"final train loss {float(last.get('train_loss', 'nan')):.3f}, "
            f"validation loss {float(last.get('val_loss', 'nan')):.3f}, validation PIT accuracy "
            f"{float(last.get('val_pit_acc', 'nan')):.3f} (held-out utterances of the training speakers). "
            f"Resolved config `{train_run}/config.yaml`, per-step log `{train_run}/steps.csv`.",
            "",
        ]
    lines += [
        "## Trial lists",
        "",
        *_table(
            ["setting", "file", "SHA-1", "trials", "seed"],
            [
                [
                    name,
                    f"`{run.trial_list(s)}`",
                    f"`{trial_list_sha1(run.trial_list(s))[:12]}`",
                    str(s.trials),
                    str(s.seed),
                ]
                for name, s in used.items()
            ],
        ),
        "",
        "## Commands",
        "",
        "Every number above, re-run alone (the trial list is re-read, so the seed "
        "and mixing options are those it was drawn with):",
        "",
        "```",
        *dict.fromkeys(eval_command(r) for r in results),
        "```",
        "",
        "## Environment",
        "",
        f"- {_versions(systems_)}.",
        "",
    ]
    path = out / "REPORT.md"
    write_text(path, "\n".join(lines))
    return path


_CONDITION_TEXT = {
    "mixture": "`mixture` the paper's enrollment-free protocol",
    "enrolled": "`enrolled` the mixture against clean enrollment utterances of target and non-target",
    "clean": "`clean` the first sources alone (A vs A' vs C'), the bound a mixture model approaches",
    "separated": "`separated` every source alone, outputs pooled: the oracle-separation bound",
    "cascade": "`cascade` each mixture split by the separator first, every output embedded, outputs "
    "pooled: separate, then embed",
}


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def _ratios(primary: System, systems: Sequence[System], compared: dict) -> list[str]:
    """The ratios the project's targets are stated in (docs/results/reference.md holds the targets themselves),
    measured on the comparison trials."""
    mixture, clean = compared.get((primary.label, "mixture")), compared.get((primary.label, "clean"))
    peer = next((s for s in systems if s.path == "resemblyzer"), None)
    lines = ["## Ratios", ""]
    if mixture and peer and (peer.label, "mixture") in compared:
        ratio = _ratio(mixture["eer"], compared[peer.label, "mixture"]["eer"])
        lines.append(
            f"- {primary.label} mixture EER / {peer.label} mixture EER = {mixture['eer']:.1f} / "
            f"{compared[peer.label, 'mixture']['eer']:.1f} = **{ratio:.2f}**."
        )
    if mixture and clean:
        ratio = _ratio(mixture["eer"], clean["eer"])
        lines.append(
            f"- {primary.label} mixture EER / its clean EER = {mixture['eer']:.1f} / {clean['eer']:.1f} = "
            f"**{ratio:.1f}**."
        )
    return lines + [""] if len(lines) > 2 else []
