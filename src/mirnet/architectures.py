"""Every trainable network by the name that configs and checkpoints use: the embedders of
``models/`` (``kind = "embedder"``: mixture -> N speaker embeddings) and the separators of
``separation/`` (``kind = "separator"``: mixture -> N waveforms), and ``separating_embedder``,
which joins one of each. It sits above both packages, so neither knows the other, and the
trainer, checkpoints and the API build any of them through it.

A network built here describes itself (as Asteroid's ``get_model_args``): ``describe(model)``
is the name and the arguments that rebuild it, which a checkpoint stores, so nothing beside the
model has to remember how it was made."""

from __future__ import annotations

import inspect

from torch import nn

from .config import ConfigError, ModelConfig
from .models import MODELS
from .models.parts import build
from .separating_embedder import SeparatingEmbedder
from .separation import SEPARATORS

ARCHITECTURES: dict[str, type[nn.Module]] = {
    **MODELS,
    **SEPARATORS,
    "separating_embedder": SeparatingEmbedder,
}


def architecture(name: str) -> type[nn.Module]:
    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise ConfigError(f"model.name: unknown model {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def build_model(name: str, **kwargs) -> nn.Module:
    """The network ``name`` with ``kwargs`` checked against its constructors (``models.parts``):
    bad arguments raise a ConfigError naming their key under ``model.args``."""
    model = build(architecture(name), kwargs, "model.args")
    model.architecture = {"name": name, "args": dict(kwargs)}
    return model


def model_from_config(section: ModelConfig, n_speakers: int) -> nn.Module:
    """The network a config's ``model`` section asks for, sized for ``n_speakers`` sources."""
    return build_model(section.name, **model_args(section.name, section.args, n_speakers))


def describe(model: nn.Module) -> dict:
    """``{"name", "args"}``: what ``build_model`` needs to build ``model`` again."""
    spec = getattr(model, "architecture", None)
    if spec is None:
        raise ConfigError(f"a {type(model).__name__} built outside build_model() cannot describe itself")
    return {"name": spec["name"], "args": dict(spec["args"])}


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
