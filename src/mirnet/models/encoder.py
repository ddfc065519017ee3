"""Speech encoder E_S (paper Table 1): frame-wise 1-D convolutions from the log spectrum to
N*D channels, where each block of D channels is meant to hold one speaker.

``dilations`` (not in the paper; default all 1 = Table 1) widen the temporal context. Table 1
sees 9 frames (90 ms); keeping one talker in one channel block across a 3-s crop is a
decision about the whole utterance, which a 90-ms window can only make from local cues.

``context_layers`` (not in the paper; default 0 = Table 1) insert that many self-attention
(transformer) layers after hidden layer ``context_after``: every frame can then look at every
other frame of the crop, e.g. at the frames where the same voice is alone, at the price of one
(T x T) attention map per layer. No positional encoding: the convolutions before it carry local
order, and which voice goes to which block should not depend on where in the crop it speaks.
Measured once in the compact recipe: it learned more slowly than the reference on 2 CPU cores
(docs/lab/experiments.md, run ctx1), so it is off by default."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..arguments import Count, Size, choose
from ..errors import ConfigError


class SpeechEncoder(nn.Module):
    """(B, bins, T) -> (B, N*D, T). Same-length padding keeps the frame grid of the input, so
    attention weights line up with the sources' power contours."""

    def __init__(
        self,
        in_bins: Size = 257,
        channels: Sequence[Size] = (512, 512, 512, 512, 1500),
        kernels: Sequence[Size] = (5, 3, 3, 1, 1, 1),
        out_channels: Size = 514,
        negative_slope: float = 0.2,
        norm: str = "none",
        dilations: Sequence[Size] | None = None,
        context_layers: Count = 0,
        context_heads: Size = 4,
        context_after: Count = 2,
    ):
        super().__init__()
        if len(kernels) != len(channels) + 1:
            raise ConfigError(
                f"kernels: need one kernel per layer: {len(channels) + 1} layers, got {len(kernels)} kernels"
            )
        dilations = tuple(dilations) if dilations is not None else (1,) * len(kernels)
        if len(dilations) != len(kernels):
            raise ConfigError(
                f"dilations: need one dilation per layer: {len(kernels)} layers, "
                f"got {len(dilations)} dilations"
            )
        choose("norm", norm, ("none", "batch"))
        if context_layers and not 0 <= context_after < len(channels):
            raise ConfigError(
                f"context_after must name a hidden layer, 0..{len(channels) - 1}, got {context_after}"
            )
        if context_layers and channels[context_after] % context_heads:
            raise ConfigError(
                f"context_heads: the {channels[context_after]} channels of hidden layer {context_after} "
                f"do not split into {context_heads} heads"
            )
        widths = [in_bins, *channels, out_channels]
        layers: list[nn.Module] = []
        for i, (c_in, c_out, k, d) in enumerate(zip(widths[:-1], widths[1:], kernels, dilations)):
            layers.append(nn.Conv1d(c_in, c_out, k, padding=d * (k // 2), dilation=d))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(c_out))
            layers.append(nn.LeakyReLU(negative_slope))
            if context_layers and i == context_after:
                layers.append(UtteranceContext(c_out, context_layers, context_heads))
        self.layers = nn.Sequential(*layers)
        self.out_channels = out_channels
        # frames; None: the whole input, through the context layers
        self.receptive_field = (
            None if context_layers else 1 + sum(d * (k - 1) for k, d in zip(kernels, dilations))
        )

    def forward(self, spec):
        return self.layers(spec)


class UtteranceContext(nn.Module):
    """(B, C, T) -> (B, C, T) through pre-norm transformer layers over the time axis."""

    def __init__(self, channels: int, layers: int, heads: int):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            channels, heads, dim_feedforward=2 * channels, dropout=0.0, batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.transpose(1, 2)).transpose(1, 2)
