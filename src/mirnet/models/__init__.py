"""The embedders (each registered by name where it is defined; ``architectures`` builds them)."""

from __future__ import annotations

from .ge2e import GE2E
from .mirnet import MIRNet, ModelOutput, SingleSpeakerNet

__all__ = ["MIRNet", "SingleSpeakerNet", "GE2E", "ModelOutput"]
