"""Experiment configuration: one YAML file per experiment, any key overridable from the
command line as ``section.key=value``, checked against typed dataclasses so that a typo or a
wrong type fails at start-up with the key's name instead of hours into a run.

Each key's range lives in its type (``mirnet.arguments``); choices and constraints between keys of
a section are checked in ``__post_init__``. What a model asks of the rest of the config is checked
where an experiment is assembled (``mirnet.train.experiment``), since that needs the model built."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .arguments import (
    Count,
    Cutoff,
    HeldOut,
    NonNegative,
    Positive,
    Ratio,
    Seed,
    Size,
    Speed,
    build_dataclass,
    choose,
    coerce,
)
from .atomic import write_text
from .errors import ConfigError


@dataclass
class DataConfig:
    train: str | tuple[str, ...] = (
        "data/corpus/seen"  # LibriSpeech-layout tree or manifest (.jsonl), or a list
    )
    # one per data.train entry: each mixture draws one entry by weight, then all its speakers from
    # it (the share of recorded-recorded mixtures); empty: speakers drawn uniformly over all entries
    train_weights: tuple[NonNegative, ...] = ()
    val_fraction: HeldOut = 0.1  # of each seen speaker's utterances, held out for validation
    n_speakers: Size = 2
    crop_seconds: Positive = 3.0
    sir_db: tuple[float, float] = (-5.0, 5.0)
    overlap: tuple[Ratio, Ratio] = (1.0, 1.0)
    speed_perturb: tuple[Speed, ...] = (1.0,)  # e.g. [0.9, 1.0, 1.1]: each factor a new speaker class
    lowpass: Ratio = 0.0  # probability per source of a low-pass, so bandwidth tells no speaker apart
    lowpass_hz: tuple[Cutoff, Cutoff] = (4000.0, 8000.0)  # uniform range of that cutoff
    min_seconds: NonNegative = 1.0
    enroll_seconds: NonNegative = (
        0.0  # > 0: each source also comes with a crop of another utterance of its speaker
    )
    cache: str | None = (
        None  # a decoded-audio cache of data.train (mirnet corpus cache): same mixtures, faster
    )
    epoch_size: Size = 3200  # mixtures per epoch
    val_size: Size = 320
    batch_size: Size = 32
    workers: Count = 1

    def __post_init__(self):
        sources = [self.train] if isinstance(self.train, str) else list(self.train)
        if not sources or not all(sources):
            raise ConfigError(f"data.train: expected a path or a non-empty list of paths, got {self.train!r}")
        if not self.speed_perturb:
            raise ConfigError(
                f"data.speed_perturb: expected a non-empty list, got {list(self.speed_perturb)!r}"
            )
        if self.train_weights and (len(self.train_weights) != len(sources) or not any(self.train_weights)):
            raise ConfigError(
                f"data.train_weights: expected one weight >= 0 per data.train entry ({len(sources)}), "
                f"at least one > 0, got {list(self.train_weights)}"
            )
        _interval("data.sir_db", self.sir_db)
        _interval("data.overlap", self.overlap)
        _interval("data.lowpass_hz", self.lowpass_hz)
        if (
            self.epoch_size < self.batch_size
        ):  # the sampler drops a partial batch: the epoch would have no step
            raise ConfigError(
                f"data.epoch_size={self.epoch_size} is smaller than data.batch_size={self.batch_size}: "
                f"an epoch needs at least one full batch"
            )


@dataclass
class ModelConfig:
    name: str = "mirnet"
    args: dict = field(default_factory=dict)  # checked against the model's constructors (mirnet.arguments)


@dataclass
class MasrConfig:
    """MASR's hard-mining term over speaker metadata (``losses.masr``); off at weight 0."""

    weight: NonNegative = 0.0  # lambda: added to the base loss
    sources: dict = field(default_factory=lambda: {"speaker": 1.0})  # name -> weight; < 0: a negative source
    combine: str = "weighted"  # weighted (sum of weights of the sources shared) | or (any source shared)
    threshold: Ratio = 0.5  # tau: a pair at least this similar is a positive; exactly 0 is a negative
    margin: NonNegative = 0.2  # on cosine similarity
    mining: str = "hard"  # hard (hardest positive and negative per anchor) | soft (every pair, weighted)

    def __post_init__(self):
        choose("loss.masr.combine", self.combine, ("weighted", "or"))
        choose("loss.masr.mining", self.mining, ("hard", "soft"))
        if not isinstance(self.sources, dict) or not self.sources:
            raise ConfigError(
                f"loss.masr.sources: expected a mapping of name -> weight, got {self.sources!r}"
            )
        for name, w in self.sources.items():
            self.sources[name] = coerce(w, float, f"loss.masr.sources.{name}")
        if not any(w > 0 for w in self.sources.values()):
            raise ConfigError(
                f"loss.masr.sources: at least one source needs a positive weight, got {self.sources!r}"
            )


@dataclass
class LossConfig:
    classifier: str = "cosine"  # linear (paper) | cosine (additive margin)
    scale: Positive = 30.0
    margin: NonNegative = 0.2
    ce_weight: NonNegative = 1.0
    # PIT-aligned cosine distance to a clean teacher's source embeddings: of the embedder's own
    # embeddings, or (a separator) of the teacher's embeddings of its outputs
    teacher_weight: NonNegative = 0.0
    attention_weight: NonNegative = 0.0  # BCE of attention weights against each source's share of frame power
    mask_weight: NonNegative = (
        0.0  # MSE of each stream's log-domain mask against its source's log ratio to the mixture
    )
    mask_floor_db: Positive = 30.0  # that ratio clipped to [-mask_floor_db, 0] dB
    # PIT-aligned negative SI-SDR (dB) of a separating embedder's streams against the sources: keeps
    # its separator separating while the identity loss trains it
    signal_weight: NonNegative = 0.0
    masr: MasrConfig = field(default_factory=MasrConfig)  # metadata-aware hard mining (MASR)

    def __post_init__(self):
        choose("loss.classifier", self.classifier, ("linear", "cosine"))


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | adamw | sgd: train.optim.OPTIMIZERS, checked when the run is built
    lr: Positive = 2e-3
    momentum: Ratio = 0.9  # sgd only
    weight_decay: NonNegative = 0.0
    grad_clip: Positive = 5.0
    warmup_steps: Count = 100
    schedule: str = "cosine"  # cosine | constant (after warm-up)
    min_lr_ratio: Ratio = 0.05

    def __post_init__(self):
        choose("optim.schedule", self.schedule, ("cosine", "constant"))


@dataclass
class TrainConfig:
    epochs: Size = 10
    threads: Size = 2
    teacher: str | None = None  # experiment dir of a single-speaker model, or "resemblyzer"
    conditioner: str | None = None  # a conditioned separator's embedder: an experiment dir, or "resemblyzer"
    separator: str | None = None  # a uPIT separator in front of a single-speaker embedder (the cascade's)
    init_from: str | None = None  # experiment dir whose speaker network (and classifier) start this one
    freeze: tuple[
        str, ...
    ] = ()  # model parts kept fixed (weights and BatchNorm statistics), e.g. [speaker_net]
    log_every: Size = 10
    precise_bn_batches: Count = 10  # recompute BatchNorm statistics on this many batches per epoch (0: off)
    keep_epoch_models: bool = False  # small per-epoch snapshots for EER-vs-time curves
    tensorboard: bool = False
    accumulate: Size = 1  # micro-batches per optimizer step; data.batch_size stays the batch of one step
    precision: str = "fp32"  # fp32 | bf16 (autocast, CPU or CUDA) | fp16 (autocast + GradScaler, CUDA only)
    device: str = (
        "auto"  # auto (cuda if available) | cpu | cuda; under torchrun each rank takes cuda:LOCAL_RANK
    )
    backend: str = (
        "auto"  # torch.distributed backend under torchrun: auto (nccl on cuda, gloo on cpu) | nccl | gloo
    )
    sync_batchnorm: bool = (
        True  # under torchrun, BatchNorm statistics of the global batch (SyncBatchNorm, CUDA only)
    )

    def __post_init__(self):
        choose("train.precision", self.precision, ("fp32", "bf16", "fp16"))
        choose("train.device", self.device, ("auto", "cpu", "cuda"))
        choose("train.backend", self.backend, ("auto", "nccl", "gloo"))


@dataclass
class ExperimentConfig:
    seed: Seed = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return _plain(asdict(self))


def _interval(key: str, bounds: tuple[float, float]) -> None:
    if not bounds[0] <= bounds[1]:
        raise ConfigError(f"{key}: expected [low, high] with low <= high, got {list(bounds)}")


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line for PyYAML's multi-line messages: the problem and where."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def apply_override(tree: dict, override: str) -> None:
    """``a.b.c=value`` with value parsed as YAML (so 3, 0.1, [1, 2], null, true work)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} is not of the form key=value")
    key, raw = override.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"override {key}: cannot read {raw!r} as a YAML value ({_yaml_problem(exc)})"
        ) from None
    node = tree
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key}: {p} is not a section")
    node[parts[-1]] = value


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> ExperimentConfig:
    tree: dict = {}
    if path is not None:
        path = Path(path)
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: cannot read config ({_yaml_problem(exc)})") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
    for ov in overrides:
        apply_override(tree, ov)
    try:
        cfg = build_dataclass(ExperimentConfig, tree)
    except ConfigError as exc:
        raise ConfigError(f"{path or 'config'}: {exc}") from exc
    return cfg


def save_config(cfg: ExperimentConfig, path: str | Path) -> Path:
    return write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
