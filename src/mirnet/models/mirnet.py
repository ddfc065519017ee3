"""MIRNet: mixture waveform -> one embedding per speaker, no enrollment (paper Fig. 1).

speech analysis (log spectrum -> speech encoder) -> spectral attention with channel exchange
-> shared speaker network with temporal pooling. The N attention streams run through the
speaker network as one batch of B*N sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..arguments import Size, build
from ..errors import ConfigError
from ..features import LogMagnitudeSpectrum
from ..registry import register
from .attention import SpectralAttention
from .encoder import SpeechEncoder
from .speaker_nets import speaker_net_class


@dataclass
class ModelOutput:
    embeddings: torch.Tensor  # (B, N, E)
    attention: torch.Tensor | None = None  # (B, N, frames), MIRNet only
    masks: torch.Tensor | None = (
        None  # (B, N, F, frames): log-domain masks, MIRNet with output='residual' only
    )
    streams: torch.Tensor | None = None  # (B, N, samples): a separating embedder's separated streams


@register("mirnet")
class MIRNet(nn.Module):
    kind = "embedder"

    def __init__(
        self,
        n_speakers: Size = 2,
        features: dict | None = None,
        encoder: dict | None = None,
        attention: dict | None = None,
        speaker_net: dict | None = None,
    ):
        super().__init__()
        self.n_speakers = n_speakers
        self.features = build(LogMagnitudeSpectrum, features, "features")
        bins = self.features.n_bins
        self.encoder = build(
            SpeechEncoder, {"out_channels": n_speakers * bins, **(encoder or {})}, "encoder", in_bins=bins
        )
        if self.encoder.out_channels % n_speakers:
            raise ConfigError(
                f"encoder.out_channels: {self.encoder.out_channels} channels do not split into "
                f"n_speakers={n_speakers} equal blocks"
            )
        self.attention = build(
            SpectralAttention,
            {"out_dim": bins, **(attention or {})},
            "attention",
            channels=self.encoder.out_channels,
            n_speakers=n_speakers,
        )
        self.has_masks = (
            self.attention.output == "residual"
        )  # ModelOutput.masks, which loss.mask_weight needs
        if self.has_masks and self.attention.out_dim != bins:
            raise ConfigError(
                f"attention.out_dim: output 'residual' adds to the {bins}-bin spectrum, "
                f"got out_dim={self.attention.out_dim}"
            )
        spk = dict(speaker_net or {})
        self.speaker_net = build(
            speaker_net_class(spk.pop("name", "resnet18")), spk, "speaker_net", in_dim=self.attention.out_dim
        )
        self.embed_dim = self.speaker_net.embed_dim

    def forward(self, wav: torch.Tensor) -> ModelOutput:
        spec = self.features(wav)
        z, weights, masks = self.attention(self.encoder(spec), spec)  # (B, N, F, T), (B, N, T), (B, N, F, T)
        b, n = z.shape[:2]
        emb = self.speaker_net(z.flatten(0, 1)).view(b, n, -1)
        return ModelOutput(emb, weights, masks)


@register("single")
class SingleSpeakerNet(nn.Module):
    """One embedding per clip from the clean log spectrum: the single-embedding baseline and
    the teacher whose weights can start a MIRNet's speaker network."""

    kind, n_speakers, has_masks = "embedder", 1, False

    def __init__(self, features: dict | None = None, speaker_net: dict | None = None):
        super().__init__()
        self.features = build(LogMagnitudeSpectrum, features, "features")
        spk = dict(speaker_net or {})
        self.speaker_net = build(
            speaker_net_class(spk.pop("name", "tdnn")), spk, "speaker_net", in_dim=self.features.n_bins
        )
        self.embed_dim = self.speaker_net.embed_dim

    def forward(self, wav: torch.Tensor) -> ModelOutput:
        return ModelOutput(self.speaker_net(self.features(wav)).unsqueeze(1))
