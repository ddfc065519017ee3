"""The door to every network: importing it registers all of them (the embedders of ``models/``,
the separators of ``separation/`` and ``separating_embedder``, which joins one of each), so the
trainer, checkpoints and the API build any of them by name through it, and a config's ``model``
section becomes a network here."""

from __future__ import annotations

import inspect

from torch import nn

from . import models, separating_embedder, separation  # noqa: F401  (each registers its networks)
from .config import ModelConfig
from .registry import architecture, build_model, describe, names

__all__ = [
    "architecture",
    "build_model",
    "describe",
    "model_args",
    "model_from_config",
    "model_kind",
    "names",
]


def model_from_config(section: ModelConfig, n_speakers: int) -> nn.Module:
    """The network a config's ``model`` section asks for, sized for ``n_speakers`` sources."""
    return build_model(section.name, **model_args(section.name, section.args, n_speakers))


def model_kind(name: str) -> str:
    return architecture(name).kind


def model_args(name: str, args: dict, n_speakers: int) -> dict:
    """A config's ``model.args`` with the outputs the data asks for, unless they are given:
    embedders' ``n_speakers``; separators' ``n_outputs``, one per source, or one per pass for
    a conditioned separator (``embed_dim`` > 0)."""
    params = inspect.signature(architecture(name)).parameters
    if "n_speakers" in params:
        return {"n_speakers": n_speakers, **args}
    if "n_outputs" in params:
        return {"n_outputs": 1 if args.get("embed_dim") else n_speakers, **args}
    return dict(args)
