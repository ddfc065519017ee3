"""Dual-path recurrent separation on the STFT frames (DPRNN: Luo, Chen and Yoshioka, 2020, run
over STFT frames instead of a learned 2-ms basis): mixture waveform -> N source waveforms, a
drop-in for ``mask_separator`` in every config, verb and loss.

The frames are cut into chunks of ``chunk`` frames that overlap by half. Blocks then alternate a
BLSTM within each chunk (short sequences, many of them side by side) with a BLSTM across the
chunks at each position, each residual, so every frame hears the whole clip through two short
recurrences rather than one long one. The chunks are put back by averaging where they overlap.

Why beside the frame BLSTM: that one's single recurrence over all frames is a long chain of small
matrix products on one CPU thread; here each chain is ``chunk`` or T / (``chunk`` / 2) steps long
and the rest is batch. The input is the log magnitude normalised per frame, as
``mask_separator``'s; the output one mask per output and bin, magnitude or complex.

With ``embed_dim: D_e`` and one output it is conditioned (VoiceFilter's role): the normalised
target embedding is projected to the frame features and added to every frame. The projection has
no bias, so for a zero embedding a conditioned separator started from a uPIT one (``start_from``)
is that separator's first output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..arguments import Count, Positive, Size, choose
from ..errors import ConfigError
from ..registry import register
from .recurrence import ResidualBLSTM
from .spectral import MASKS, SpectralSeparator, bounded_masks
from .warm_start import start_from_state


@register("dprnn_separator")
class DprnnSeparator(SpectralSeparator):
    """(B, samples) at 16 kHz [, (B, embed_dim) target embeddings] -> (B, n_outputs, samples)."""

    def __init__(
        self,
        n_outputs: Size = 2,
        embed_dim: Count = 0,
        features: dict | None = None,
        dim: Size = 64,
        hidden: Size = 128,
        blocks: Size = 3,
        chunk: int = 24,  # checked below: even, >= 2
        mask: str = "complex",
        mask_bound: Positive = 2.0,
        consistency: str = "none",
    ):
        super().__init__(n_outputs, embed_dim, features, consistency)
        if chunk < 2 or chunk % 2:
            raise ConfigError(
                f"chunk: expected an even number of frames >= 2 (chunks overlap by half), got {chunk}"
            )
        choose("mask", mask, tuple(MASKS))
        self.mask, self.mask_bound, self.chunk = mask, mask_bound, chunk
        bins = self.features.n_bins
        self.norm = nn.LayerNorm(bins)
        self.inp = nn.Linear(bins, dim)
        self.embed_proj = nn.Linear(embed_dim, dim, bias=False) if embed_dim else None
        self.blocks = nn.ModuleList(
            nn.ModuleList([ResidualBLSTM(dim, hidden), ResidualBLSTM(dim, hidden)]) for _ in range(blocks)
        )
        # rows outputs-major (N, parts, F), so a one-output model can take a uPIT model's first output
        self.out = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, n_outputs * MASKS[mask] * bins))

    def start_from(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Take another DprnnSeparator's weights as this one's start: equal shapes are copied, the
        last layer keeps the first output's rows; the embedding's projection keeps its own random
        start. Returns the names it could not fill."""
        return start_from_state(self, state, lambda name: name.startswith("out.1."))

    def masks(self, spec: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Complex mixture STFT (B, F, T) -> masks (B, n_outputs, F, T): real in [0, 1], or complex."""
        z = self.inp(self.norm(torch.log(spec.abs() + 1e-6).transpose(1, 2)))  # (B, T, D)
        b, t, d = z.shape
        if self.embed_dim:
            z = z + self.embed_proj(self.target_embedding(embedding, b, z.dtype))[:, None, :]
        k, hop = self.chunk, self.chunk // 2
        s = 1 + max(0, -(-(t - k) // hop))  # chunks that cover every frame
        length = (s - 1) * hop + k
        c = F.pad(z, (0, 0, 0, length - t)).unfold(1, k, hop).transpose(2, 3)  # (B, S, K, D)
        for within, across in self.blocks:
            c = within(c.reshape(b * s, k, d)).view(b, s, k, d)
            c = across(c.transpose(1, 2).reshape(b * k, s, d)).view(b, k, s, d).transpose(1, 2)
        folded = F.fold(
            c.permute(0, 3, 2, 1).reshape(b, d * k, s), (1, length), (1, k), stride=(1, hop)
        )  # (B, D, 1, length): the chunks summed where they overlap
        counts = F.fold(c.new_ones(1, k, s), (1, length), (1, k), stride=(1, hop))
        z = (folded / counts)[:, :, 0, :t].transpose(1, 2)  # (B, T, D)
        y = self.out(z).float().view(b, t, self.n_outputs, MASKS[self.mask], -1)
        return bounded_masks(y.permute(0, 2, 3, 4, 1), self.mask, self.mask_bound)  # from (B, N, parts, F, T)
