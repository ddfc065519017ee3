"""Model registry: checkpoints store a name and constructor arguments, and this maps the name back."""
from __future__ import annotations

from torch import nn

from .mirnet import MIRNet, ModelOutput, SingleSpeakerNet

MODELS = {"mirnet": MIRNet, "single": SingleSpeakerNet}


def build_model(name: str, **kwargs) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name](**kwargs)


__all__ = ["MIRNet", "SingleSpeakerNet", "ModelOutput", "MODELS", "build_model"]
