"""Experiment configuration: one YAML file per experiment, any key overridable from the
command line as ``section.key=value``, checked against typed dataclasses so that a typo or a
wrong type fails at start-up with the key's name instead of hours into a run."""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    pass


@dataclass
class DataConfig:
    train: str | tuple[str, ...] = "data/corpus/seen"  # LibriSpeech-layout tree or manifest (.jsonl), or a list
    val_fraction: float = 0.1  # of each seen speaker's utterances, held out for validation
    n_speakers: int = 2
    crop_seconds: float = 3.0
    sir_db: tuple[float, float] = (-5.0, 5.0)
    overlap: tuple[float, float] = (1.0, 1.0)
    speed_perturb: tuple[float, ...] = (1.0,)  # e.g. [0.9, 1.0, 1.1]: each factor a new speaker class
    min_seconds: float = 1.0
    epoch_size: int = 3200  # mixtures per epoch
    val_size: int = 320
    batch_size: int = 32
    workers: int = 1

    def __post_init__(self):
        if not self.speed_perturb:
            raise ConfigError(f"data.speed_perturb: expected a non-empty list, got {list(self.speed_perturb)!r}")


@dataclass
class ModelConfig:
    name: str = "mirnet"
    args: dict = field(default_factory=dict)


@dataclass
class LossConfig:
    classifier: str = "cosine"  # linear (paper) | cosine (additive margin)
    scale: float = 30.0
    margin: float = 0.2
    ce_weight: float = 1.0
    teacher_weight: float = 0.0  # PIT-aligned cosine distance to a clean teacher's source embeddings
    attention_weight: float = 0.0  # BCE of attention weights against each source's share of frame power
    mask_weight: float = 0.0  # MSE of each stream's log-domain mask against its source's log ratio to the mixture
    mask_floor_db: float = 30.0  # that ratio clipped to [-mask_floor_db, 0] dB


@dataclass
class OptimConfig:
    lr: float = 2e-3
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    warmup_steps: int = 100
    schedule: str = "cosine"  # cosine | constant (after warm-up)
    min_lr_ratio: float = 0.05


@dataclass
class TrainConfig:
    epochs: int = 10
    threads: int = 2
    teacher: str | None = None  # experiment dir of a single-speaker model
    init_from: str | None = None  # experiment dir whose speaker network (and classifier) start this one
    freeze: tuple[str, ...] = ()  # model parts kept fixed (weights and BatchNorm statistics), e.g. [speaker_net]
    log_every: int = 10
    precise_bn_batches: int = 10  # recompute BatchNorm statistics on this many batches per epoch (0: off)
    keep_epoch_models: bool = False  # small per-epoch snapshots for EER-vs-time curves
    tensorboard: bool = False
    accumulate: int = 1  # micro-batches per optimizer step; data.batch_size stays the batch of one step
    precision: str = "fp32"  # fp32 | bf16 (autocast, CPU or CUDA) | fp16 (autocast + GradScaler, CUDA only)
    device: str = "auto"  # auto (cuda if available) | cpu | cuda; under torchrun each rank takes cuda:LOCAL_RANK
    backend: str = "auto"  # torch.distributed backend under torchrun: auto (nccl on cuda, gloo on cpu) | nccl | gloo
    sync_batchnorm: bool = True  # under torchrun, BatchNorm statistics of the global batch (SyncBatchNorm, CUDA only)

    def __post_init__(self):
        _choose("train.precision", self.precision, ("fp32", "bf16", "fp16"))
        _choose("train.device", self.device, ("auto", "cpu", "cuda"))
        _choose("train.backend", self.backend, ("auto", "nccl", "gloo"))
        if self.accumulate < 1:
            raise ConfigError(f"train.accumulate: expected a whole number >= 1, got {self.accumulate}")


@dataclass
class ExperimentConfig:
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return _plain(asdict(self))


def _choose(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for alternative in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, alternative, key)
            except ConfigError as exc:
                errors.append(str(exc).removeprefix(f"{key}: "))
        raise ConfigError(f"{key}: {' or '.join(errors)}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return _build(tp, value, key + ".")
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is float and not isinstance(value, bool):
        if isinstance(value, int):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                pass
    base = origin or tp
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {getattr(base, '__name__', base)}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type, values: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    unknown = set(values) - set(hints)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(prefix + k for k in sorted(unknown))}; "
                          f"valid keys here: {', '.join(sorted(hints))}")
    return cls(**{k: _coerce(v, hints[k], prefix + k) for k, v in values.items()})


def apply_override(tree: dict, override: str) -> None:
    """``a.b.c=value`` with value parsed as YAML (so 3, 0.1, [1, 2], null, true work)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} is not of the form key=value")
    key, raw = override.split("=", 1)
    node = tree
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key}: {p} is not a section")
    node[parts[-1]] = yaml.safe_load(raw)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    tree: dict = {}
    if path is not None:
        path = Path(path)
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc})") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
    for ov in overrides:
        apply_override(tree, ov)
    try:
        return _build(ExperimentConfig, tree)
    except ConfigError as exc:
        raise ConfigError(f"{path or 'config'}: {exc}") from None


def save_config(cfg: ExperimentConfig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    return path
