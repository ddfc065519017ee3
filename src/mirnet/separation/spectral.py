"""What every separator that masks the mixture's STFT shares: the features, the check and scale of
a conditioning embedding, bounded masks, and the way back to waveforms through the STFT's own
inverse, so that the loss and every metric see waveforms."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from ..config import ConfigError
from ..errors import InputError
from ..features import Spectrogram
from ..models.parts import build

MASKS = {"magnitude": 1, "complex": 2}  # network outputs per bin


class SpectralSeparator(nn.Module, ABC):
    """(B, samples) at 16 kHz [, (B, embed_dim) target embeddings] -> (B, n_outputs, samples).
    A subclass gives ``masks``: complex mixture STFT (B, F, T) -> (B, n_outputs, F, T)."""

    kind, has_masks = "separator", False  # has_masks: the embedders' log-domain masks (loss.mask_weight)

    def __init__(self, n_outputs: int, embed_dim: int, features: dict | None):
        super().__init__()
        if n_outputs < 1:
            raise ConfigError(f"n_outputs: expected a whole number >= 1, got {n_outputs}")
        self.n_outputs, self.embed_dim = n_outputs, embed_dim
        self.features = build(Spectrogram, features, "features")
        # the embedding at the scale of the normalised frames it joins (a unit vector's entries are
        # ~D^-1/2): unscaled, a VoiceFilter on MIRNet's identities took 6x the steps to use it
        self.embed_norm = nn.LayerNorm(embed_dim, elementwise_affine=False) if embed_dim else None

    @property
    def n_speakers(self) -> int:
        return self.n_outputs

    def target_embedding(
        self, embedding: torch.Tensor | None, batch: int, dtype: torch.dtype
    ) -> torch.Tensor:
        """The conditioning embeddings (B, embed_dim), checked and normalised."""
        if embedding is None or embedding.shape != (batch, self.embed_dim):
            got = None if embedding is None else tuple(embedding.shape)
            raise InputError(
                f"this separator is conditioned: it needs embeddings of shape ({batch}, {self.embed_dim}), got {got}"
            )
        return self.embed_norm(embedding.to(dtype))

    @abstractmethod
    def masks(self, spec: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Complex mixture STFT (B, F, T) -> masks (B, n_outputs, F, T): each architecture's own."""

    def forward(self, wav: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        if wav.dim() != 2:
            raise ValueError(f"expected waveforms of shape (batch, samples), got {tuple(wav.shape)}")
        spec = self.features(wav)
        return self.features.inverse(self.masks(spec, embedding) * spec.unsqueeze(1), wav.shape[-1])


def bounded_masks(y: torch.Tensor, mask: str, bound: float) -> torch.Tensor:
    """Network outputs (B, N, MASKS[mask], F, T) -> masks (B, N, F, T): a magnitude mask in [0, 1],
    or a complex one with real and imaginary parts in [-bound, bound]."""
    if mask == "magnitude":
        return torch.sigmoid(y[:, :, 0])
    y = bound * torch.tanh(y)
    return torch.complex(y[:, :, 0], y[:, :, 1])
