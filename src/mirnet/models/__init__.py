"""The embedders by name (``architectures`` adds the separators and builds either)."""

from __future__ import annotations

from .mirnet import MIRNet, ModelOutput, SingleSpeakerNet

MODELS = {"mirnet": MIRNet, "single": SingleSpeakerNet}

__all__ = ["MIRNet", "SingleSpeakerNet", "ModelOutput", "MODELS"]
