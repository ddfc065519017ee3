"""Temporal convolutional separation on the STFT (Conv-TasNet's separator: Luo and Mesgarani, 2019,
run over STFT frames instead of a learned 2-ms basis): mixture waveform -> N source waveforms, a
drop-in for ``mask_separator`` in every config, verb and loss.

Why beside the frame BLSTM: an LSTM takes its frames one after another, so a training step on
one CPU thread is a long chain of small matrix products. The dilated convolutions here see all
frames at once. ``repeats`` stacks of ``blocks`` residual blocks, with dilations 1, 2, ...,
2^(blocks-1) frames, each block a bottleneck of depthwise-separable convolutions. With kernel 3
one stack sees 2^(blocks+1) - 1 frames: 511 frames, 8 s at the 16-ms hop, for 8 blocks.

The input is the log magnitude normalised per frame, as ``mask_separator``'s. The norms inside
the blocks are per frame too, not Conv-TasNet's global one over the utterance, so a chunk of a
long file is processed as the same frames inside the whole file would be, up to the receptive
field. The output is one mask per output and bin, magnitude or complex, as ``mask_separator``'s.

With ``embed_dim: D`` and one output it is conditioned (VoiceFilter's role): the normalised
target embedding joins every frame's input.
"""

from __future__ import annotations

import torch
from torch import nn

from ..arguments import Count, Positive, Size, choose
from ..errors import ConfigError
from ..registry import register
from .spectral import MASKS, SpectralSeparator, bounded_masks
from .warm_start import start_from_state


class _FrameNorm(nn.LayerNorm):
    """LayerNorm over the channels of each frame of (B, C, T)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class _Block(nn.Module):
    """Residual: 1x1 up to ``hidden``, a depthwise convolution dilated by ``dilation``, 1x1 down."""

    def __init__(self, dim: int, hidden: int, kernel: int, dilation: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(dim, hidden, 1),
            nn.PReLU(),
            _FrameNorm(hidden),
            nn.Conv1d(
                hidden, hidden, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2, groups=hidden
            ),
            nn.PReLU(),
            _FrameNorm(hidden),
            nn.Conv1d(hidden, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


@register("tcn_separator")
class TcnSeparator(SpectralSeparator):
    """(B, samples) at 16 kHz [, (B, embed_dim) target embeddings] -> (B, n_outputs, samples)."""

    def __init__(
        self,
        n_outputs: Size = 2,
        embed_dim: Count = 0,
        features: dict | None = None,
        dim: Size = 128,
        hidden: Size = 512,
        kernel: Size = 3,
        blocks: Size = 8,
        repeats: Size = 3,
        mask: str = "complex",
        mask_bound: Positive = 2.0,
        consistency: str = "none",
    ):
        super().__init__(n_outputs, embed_dim, features, consistency)
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"kernel: expected an odd number of frames (centred), got {kernel}")
        choose("mask", mask, tuple(MASKS))
        self.mask, self.mask_bound = mask, mask_bound
        bins = self.features.n_bins
        self.norm = nn.LayerNorm(bins)
        self.inp = nn.Conv1d(bins + embed_dim, dim, 1)
        self.tcn = nn.Sequential(
            *[_Block(dim, hidden, kernel, 2**i) for _ in range(repeats) for i in range(blocks)]
        )
        # rows outputs-major (N, parts, F), so a one-output model can take a uPIT model's first output
        self.out = nn.Sequential(nn.PReLU(), nn.Conv1d(dim, n_outputs * MASKS[mask] * bins, 1))

    def start_from(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Take another TcnSeparator's weights as this one's start: equal shapes are copied, the
        last layer keeps the first output's rows, and a conditioned one's input layer takes the
        spectrum's weights while the embedding's keep their own start. Returns the names it could
        not fill."""

        def spectrum_part(name: str, src: torch.Tensor, target: torch.Tensor) -> bool:
            fits = name == "inp.weight" and src.shape[0] == target.shape[0]
            if fits and self.embed_dim and src.shape[1] + self.embed_dim == target.shape[1]:
                target[:, : src.shape[1]].copy_(src)
                return True
            return False

        return start_from_state(self, state, lambda name: name.startswith("out.1."), spectrum_part)

    def masks(self, spec: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Complex mixture STFT (B, F, T) -> masks (B, n_outputs, F, T): real in [0, 1], or complex."""
        x = self.norm(torch.log(spec.abs() + 1e-6).transpose(1, 2)).transpose(1, 2)  # (B, F, T)
        b, _, t = x.shape
        if self.embed_dim:
            embedding = self.target_embedding(embedding, b, x.dtype)
            x = torch.cat([x, embedding[:, :, None].expand(-1, -1, t)], dim=1)
        y = self.out(self.tcn(self.inp(x))).float()  # (B, N * parts * F, T)
        return bounded_masks(y.view(b, self.n_outputs, MASKS[self.mask], -1, t), self.mask, self.mask_bound)
