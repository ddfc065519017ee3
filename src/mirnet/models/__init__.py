"""Model registry: checkpoints store a name and constructor arguments, and this maps the name back."""
from __future__ import annotations

import inspect

from torch import nn

from ..config import ConfigError
from .mirnet import MIRNet, ModelOutput, SingleSpeakerNet
from .parts import build

MODELS = {"mirnet": MIRNet, "single": SingleSpeakerNet}


def build_model(name: str, **kwargs) -> nn.Module:
    """The model ``name`` with ``kwargs`` checked against its constructors (``parts``): bad
    arguments raise a ConfigError naming their key under ``model.args``."""
    if not isinstance(name, str) or name not in MODELS:
        raise ConfigError(f"model.name: unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return build(MODELS[name], kwargs, "model.args")


def model_args(name: str, args: dict, n_speakers: int) -> dict:
    """A config's ``model.args`` with the data's speaker count for a model that takes one."""
    takes = name in MODELS and "n_speakers" in inspect.signature(MODELS[name]).parameters
    return {"n_speakers": n_speakers, **args} if takes else dict(args)


__all__ = ["MIRNet", "SingleSpeakerNet", "ModelOutput", "MODELS", "build_model", "model_args"]
