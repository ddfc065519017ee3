"""An experiment as a whole: its config loaded and checked against the model it builds, so that
a config that loads is one that trains (``mirnet train --check`` goes on to run one batch). The
config alone cannot say this: what the loss, the teacher or the crop may be depends on the
network, and the config stands below every network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..architectures import model_from_config
from ..audio import SAMPLE_RATE
from ..config import ExperimentConfig, load_config
from ..errors import ConfigError


def load_experiment(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> ExperimentConfig:
    """``load_config``, then ``check_experiment``: a ConfigError naming the file and the key."""
    cfg = load_config(path, overrides)
    try:
        check_experiment(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path or 'config'}: {exc}") from exc
    return cfg


def check_experiment(cfg: ExperimentConfig) -> None:
    """The model built on the meta device (shapes only: no memory, no time), so that its
    constructors check their arguments at start-up, and what the rest of the config needs of it."""
    d, loss = cfg.data, cfg.loss
    with torch.device("meta"):
        model = model_from_config(cfg.model, d.n_speakers)
    if model.kind == "embedder" and cfg.train.separator and model.n_speakers != 1:
        raise ConfigError(
            f"train.separator={cfg.train.separator}: the embedder behind a separator embeds each of "
            f"its outputs alone; model {cfg.model.name!r} gives {model.n_speakers} embeddings per clip"
        )
    if model.kind == "embedder" and not cfg.train.separator and model.n_speakers != d.n_speakers:
        raise ConfigError(
            f"data.n_speakers={d.n_speakers}, but model {cfg.model.name!r} gives {model.n_speakers} "
            f"embedding(s) per mixture (model.args.n_speakers)"
        )
    if model.kind == "separator":
        _check_separator(cfg, model)
    shortest = model.features.n_fft // 2 + 1  # its STFT pads each end by n_fft/2 by reflection
    if round(d.crop_seconds * SAMPLE_RATE) < shortest:
        raise ConfigError(
            f"data.crop_seconds={d.crop_seconds}: shorter than the model's shortest input, "
            f"{shortest / SAMPLE_RATE:.3f} s (n_fft/2 + 1 samples)"
        )
    if loss.signal_weight and not getattr(model, "has_streams", False):
        raise ConfigError(
            f"loss.signal_weight={loss.signal_weight} needs a model with separated streams "
            f"(model.name: separating_embedder)"
        )
    if loss.mask_weight and not model.has_masks:
        raise ConfigError(
            f"loss.mask_weight={loss.mask_weight} needs a model with log-domain masks "
            f"(model.args.attention.output=residual)"
        )


def _check_separator(cfg: ExperimentConfig, model: Any) -> None:
    """A separator learns from the signal loss and, with a teacher, from the identity term alone:
    the embedder's other loss terms have nothing to act on, and its outputs must match the
    mixtures' sources."""
    name, d = cfg.model.name, cfg.data
    for key in ("attention_weight", "mask_weight", "signal_weight"):
        if getattr(cfg.loss, key):
            raise ConfigError(
                f"loss.{key}={getattr(cfg.loss, key)}: separator {name!r} is trained by the "
                f"signal loss (and loss.teacher_weight's identity term) alone; set it to 0"
            )
    if cfg.train.separator:
        raise ConfigError(f"train.separator: only embedders take one; {name!r} is a separator")
    if bool(cfg.loss.teacher_weight) != bool(cfg.train.teacher):
        raise ConfigError(
            f"loss.teacher_weight={cfg.loss.teacher_weight}, train.teacher={cfg.train.teacher!r}: "
            f"a separator's identity term needs both (a single-speaker embedder, e.g. resemblyzer)"
        )
    conditioned = bool(model.embed_dim)
    if not conditioned and model.n_outputs != d.n_speakers:
        raise ConfigError(
            f"data.n_speakers={d.n_speakers}, but separator {name!r} gives {model.n_outputs} "
            f"output(s) (model.args.n_outputs)"
        )
    if conditioned and model.n_outputs != 1:
        raise ConfigError(
            f"model.args.n_outputs={model.n_outputs}: a conditioned separator "
            f"(model.args.embed_dim={model.embed_dim}) gives one output per embedding"
        )
    if conditioned != bool(cfg.train.conditioner):
        raise ConfigError(
            f"train.conditioner={cfg.train.conditioner!r}: a conditioned separator "
            f"(model.args.embed_dim > 0) needs the embedder its embeddings come from, "
            f"and only a conditioned one takes it"
        )
