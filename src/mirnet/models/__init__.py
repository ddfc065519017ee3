"""The embedders by name (``architectures`` adds the separators and builds either)."""

from __future__ import annotations

from .ge2e import GE2E
from .mirnet import MIRNet, ModelOutput, SingleSpeakerNet

MODELS = {"mirnet": MIRNet, "single": SingleSpeakerNet, "ge2e": GE2E}

__all__ = ["MIRNet", "SingleSpeakerNet", "GE2E", "ModelOutput", "MODELS"]
