"""Mask-based separation on the STFT: mixture waveform -> N source waveforms.

One architecture serves both of the paper's section 4.2 separators. With ``embed_dim: 0`` it is
the speaker-independent uPIT baseline (N masks, one per output, trained with utterance-level
PIT); with ``embed_dim: D`` and one output it is VoiceFilter (Wang et al., 2019), which
separates the speaker whose D-dimensional embedding is appended to every frame. The paper's
VoiceFilter front end is a CNN of 8 layers (64 channels: 1x7, 7x1, then 5x5 dilated in time by
1, 2, 4, 8, 16, then 1x1 to 8 channels); ``conv_channels: 0`` drops it, which is what the CPU
configs do. Then a (B)LSTM over frames, a ReLU FC layer and one sigmoid magnitude mask per
output, applied with the mixture's phase and inverted by the STFT's own inverse, so the loss
and every metric see waveforms.

``mask: complex`` replaces the magnitude mask by a complex ratio mask (real and imaginary parts,
each bounded to +-``mask_bound``), which can correct the phase: with the paper's 32-ms window and
the mixture's phase even the oracle masks of the default corpus stop near 9-11 dB SI-SDRi
(``benchmarks/oracle_masks.py``), below the 10-dB target set for a learned one.

The input is the log magnitude normalised per frame over frequency (not over time), so a
chunk of a long file is processed exactly as the same frames inside a whole one would be, up
to the LSTM's context.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..arguments import Count, Positive, Size, choose
from ..registry import register
from .spectral import MASKS, SpectralSeparator, bounded_masks
from .warm_start import start_from_state, widen


class _Conv2dStack(nn.Sequential):
    """VoiceFilter's CNN over (time, frequency): (B, 1, T, F) -> (B, out_channels * F, T)."""

    def __init__(self, channels: int, out_channels: int, dilations: Sequence[int]):
        # (kernel, dilation, channels out) per layer, kernels and dilations as (time, frequency)
        shapes = [((1, 7), (1, 1), channels), ((7, 1), (1, 1), channels)]
        shapes += [((5, 5), (d, 1), channels) for d in dilations] + [((1, 1), (1, 1), out_channels)]
        layers, c_in = [], 1
        for (kt, kf), (dt, df), c_out in shapes:
            pad = (dt * (kt - 1) // 2, df * (kf - 1) // 2)
            layers += [
                nn.Conv2d(c_in, c_out, (kt, kf), padding=pad, dilation=(dt, df)),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
            c_in = c_out
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)  # (B, C, T, F)
        return y.permute(0, 1, 3, 2).flatten(1, 2)  # (B, C*F, T)


@register("mask_separator")
class MaskSeparator(SpectralSeparator):
    """(B, samples) at 16 kHz [, (B, embed_dim) target embeddings] -> (B, n_outputs, samples)."""

    def __init__(
        self,
        n_outputs: Size = 2,
        embed_dim: Count = 0,
        features: dict | None = None,
        conv_channels: Count = 0,
        conv_out_channels: Size = 8,
        conv_dilations: Sequence[int] = (1, 2, 4, 8, 16),
        lstm_hidden: Size = 256,
        lstm_layers: Size = 2,
        bidirectional: bool = True,
        fc_dim: Size = 512,
        mask: str = "magnitude",
        mask_bound: Positive = 2.0,
        consistency: str = "none",
    ):
        super().__init__(n_outputs, embed_dim, features, consistency)
        choose("mask", mask, tuple(MASKS))
        self.mask, self.mask_bound = mask, mask_bound
        bins = self.features.n_bins
        self.norm = nn.LayerNorm(bins)
        self.cnn = _Conv2dStack(conv_channels, conv_out_channels, conv_dilations) if conv_channels else None
        frame_dim = (conv_out_channels * bins if conv_channels else bins) + embed_dim
        self.rnn = nn.LSTM(frame_dim, lstm_hidden, lstm_layers, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Sequential(
            nn.Linear(lstm_hidden * (2 if bidirectional else 1), fc_dim),
            nn.ReLU(),
            nn.Linear(fc_dim, n_outputs * bins * MASKS[mask]),
        )

    def start_from(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Take another MaskSeparator's weights (a uPIT separator's, say) as this one's start:
        equal shapes are copied; the first LSTM layer's input weights for the spectrum are copied
        and those for the embedding keep their own random start; the last layer keeps the first
        output's mask; more LSTM units or a wider FC layer start as the narrower network
        (``warm_start.widen``). A VoiceFilter started from a uPIT separator thus begins as that separator's
        first output for a zero embedding, while passes on different identities differ from the
        first step: with the embedding's weights at zero every pass was the same, PIT over identical
        passes had no preferred assignment, and a run conditioned on MIRNet's identities stayed at
        0 dB for 400 steps (docs/lab/separation.md). Returns the names it could not fill."""
        last = f"fc.{len(self.fc) - 1}."  # outputs are its leading rows (see masks())

        def wider(name: str, src: torch.Tensor, target: torch.Tensor) -> bool:
            if name.startswith("rnn.weight_ih_l0") and self.embed_dim:
                target = target[:, : target.shape[1] - self.embed_dim]  # the embedding's keep their start
            return widen(src, target, self._blocks(name))

        return start_from_state(self, state, lambda name: name.startswith(last), wider)

    def _blocks(self, name: str) -> tuple[int, ...]:
        """How ``name``'s dims are cut into units: an LSTM's rows into its four gates, a layer's
        input from a BLSTM into its two directions."""
        directions = 2 if self.rnn.bidirectional else 1
        if name.startswith(("rnn.weight_ih_l0", "rnn.weight_hh")):
            return (4, 1)
        if name.startswith("rnn.weight_ih"):  # a deeper layer reads both directions of the one below
            return (4, directions)
        if name.startswith("rnn."):  # biases
            return (4,)
        if name == "fc.0.weight":
            return (1, directions)
        return (1, 1) if name.endswith("weight") else (1,)

    def masks(self, spec: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Complex mixture STFT (B, F, T) -> masks (B, n_outputs, F, T): real in [0, 1], or complex."""
        x = self.norm(torch.log(spec.abs() + 1e-6).transpose(1, 2))  # (B, T, F)
        if self.cnn is not None:
            x = self.cnn(x.unsqueeze(1)).transpose(1, 2)  # (B, T, C*F)
        if self.embed_dim:
            embedding = self.target_embedding(embedding, x.shape[0], x.dtype)
            x = torch.cat([x, embedding[:, None, :].expand(-1, x.shape[1], -1)], dim=-1)
        y = self.fc(self.rnn(x)[0]).float()  # (B, T, n_outputs * F * parts)
        b, t = y.shape[:2]
        y = y.view(b, t, self.n_outputs, MASKS[self.mask], -1).permute(0, 2, 3, 4, 1)  # (B, N, parts, F, T)
        return bounded_masks(y, self.mask, self.mask_bound)
