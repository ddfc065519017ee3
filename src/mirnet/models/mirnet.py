"""MIRNet: mixture waveform -> one embedding per speaker, no enrollment (paper Fig. 1).

speech analysis (log spectrum -> speech encoder) -> spectral attention with channel exchange
-> shared speaker network with temporal pooling. The N attention streams run through the
speaker network as one batch of B*N sequences.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..features import LogMagnitudeSpectrum
from .attention import SpectralAttention
from .encoder import SpeechEncoder
from .speaker_nets import build_speaker_net


@dataclass
class ModelOutput:
    embeddings: torch.Tensor  # (B, N, E)
    attention: torch.Tensor | None = None  # (B, N, frames), MIRNet only
    masks: torch.Tensor | None = None  # (B, N, F, frames): log-domain masks, MIRNet with output='residual' only


class MIRNet(nn.Module):
    def __init__(self, n_speakers: int = 2, features: dict | None = None, encoder: dict | None = None,
                 attention: dict | None = None, speaker_net: dict | None = None):
        super().__init__()
        self.n_speakers = n_speakers
        self.features = LogMagnitudeSpectrum(**(features or {}))
        enc = dict(encoder or {})
        enc.setdefault("out_channels", n_speakers * self.features.n_bins)
        self.encoder = SpeechEncoder(in_bins=self.features.n_bins, **enc)
        att = dict(attention or {})
        att.setdefault("out_dim", self.features.n_bins)
        self.attention = SpectralAttention(self.encoder.out_channels, n_speakers, **att)
        spk = dict(speaker_net or {"name": "resnet18"})
        self.speaker_net = build_speaker_net(spk.pop("name"), in_dim=self.attention.out_dim, **spk)
        self.embed_dim = self.speaker_net.embed_dim

    def forward(self, wav: torch.Tensor) -> ModelOutput:
        spec = self.features(wav)
        z, weights, masks = self.attention(self.encoder(spec), spec)  # (B, N, F, T), (B, N, T), (B, N, F, T)
        b, n = z.shape[:2]
        emb = self.speaker_net(z.flatten(0, 1)).view(b, n, -1)
        return ModelOutput(emb, weights, masks)


class SingleSpeakerNet(nn.Module):
    """One embedding per clip from the clean log spectrum: the single-embedding baseline and
    the teacher whose weights can start a MIRNet's speaker network."""

    n_speakers = 1

    def __init__(self, features: dict | None = None, speaker_net: dict | None = None):
        super().__init__()
        self.features = LogMagnitudeSpectrum(**(features or {}))
        spk = dict(speaker_net or {"name": "tdnn"})
        self.speaker_net = build_speaker_net(spk.pop("name"), in_dim=self.features.n_bins, **spk)
        self.embed_dim = self.speaker_net.embed_dim

    def forward(self, wav: torch.Tensor) -> ModelOutput:
        return ModelOutput(self.speaker_net(self.features(wav)).unsqueeze(1))
