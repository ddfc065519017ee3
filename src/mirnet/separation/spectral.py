"""What every separator that masks the mixture's STFT shares: the features, the check and scale of
a conditioning embedding, bounded masks, and the way back to waveforms through the STFT's own
inverse, so that the loss and every metric see waveforms."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from ..arguments import build
from ..errors import ConfigError, InputError
from ..features import Spectrogram

MASKS = {"magnitude": 1, "complex": 2}  # network outputs per bin
CONSISTENCY = ("none", "uniform", "power")  # how the outputs are made to sum to the mixture


class SpectralSeparator(nn.Module, ABC):
    """(B, samples) at 16 kHz [, (B, embed_dim) target embeddings] -> (B, n_outputs, samples).
    A subclass gives ``masks``: complex mixture STFT (B, F, T) -> (B, n_outputs, F, T)."""

    kind, has_masks = "separator", False  # has_masks: the embedders' log-domain masks (loss.mask_weight)

    def __init__(self, n_outputs: int, embed_dim: int, features: dict | None, consistency: str = "none"):
        super().__init__()
        if consistency not in CONSISTENCY:
            raise ConfigError(f"consistency: expected one of {', '.join(CONSISTENCY)}, got {consistency!r}")
        if consistency != "none" and embed_dim:
            raise ConfigError(
                "consistency: a conditioned separator's one output is not meant to sum to the mixture"
            )
        self.consistency = consistency
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
        est = self.features.inverse(self.masks(spec, embedding) * spec.unsqueeze(1), wav.shape[-1])
        return est if self.consistency == "none" else mixture_consistency(est, wav, self.consistency)


def mixture_consistency(est: torch.Tensor, mixture: torch.Tensor, weighting: str) -> torch.Tensor:
    """(B, N, samples) estimates, (B, samples) mixture -> estimates that sum to the mixture
    (Wisdom et al., ICASSP 2019): each output's scale first, fitted by least squares, since a
    scale-invariant loss leaves it free; then the remainder shared equally (``uniform``) or by
    each output's share of the power (``power``)."""
    est, mixture = est.float(), mixture.float()
    gram = torch.einsum("bns,bms->bnm", est, est)
    ridge = 1e-6 * gram.diagonal(dim1=1, dim2=2).mean(-1) + 1e-8  # silent outputs stay solvable
    gram = gram + ridge[:, None, None] * torch.eye(est.shape[1])
    scale = torch.linalg.solve(gram, torch.einsum("bns,bs->bn", est, mixture).unsqueeze(-1))
    est = est * scale
    if weighting == "uniform":
        share = torch.full_like(est[..., :1], 1.0 / est.shape[1])
    else:
        power = est.pow(2).mean(-1, keepdim=True)
        share = power / power.sum(1, keepdim=True).clamp_min(1e-12)
    return est + share * (mixture.unsqueeze(1) - est.sum(1, keepdim=True))


def bounded_masks(y: torch.Tensor, mask: str, bound: float) -> torch.Tensor:
    """Network outputs (B, N, MASKS[mask], F, T) -> masks (B, N, F, T): a magnitude mask in [0, 1],
    or a complex one with real and imaginary parts in [-bound, bound]."""
    if mask == "magnitude":
        return torch.sigmoid(y[:, :, 0])
    y = bound * torch.tanh(y)
    return torch.complex(y[:, :, 0], y[:, :, 1])
