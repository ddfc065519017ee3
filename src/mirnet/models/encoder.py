"""Speech encoder E_S (paper Table 1): frame-wise 1-D convolutions from the log spectrum to
N*D channels, where each block of D channels is meant to hold one speaker.

``dilations`` (not in the paper; default all 1 = Table 1) widen the temporal context. Table 1
sees 9 frames (90 ms); keeping one talker in one channel block across a 3-s crop is a
decision about the whole utterance, which a 90-ms window can only make from local cues."""
from __future__ import annotations

from typing import Sequence

from torch import nn


class SpeechEncoder(nn.Module):
    """(B, bins, T) -> (B, N*D, T). Same-length padding keeps the frame grid of the input, so
    attention weights line up with the sources' power contours."""

    def __init__(self, in_bins: int = 257, channels: Sequence[int] = (512, 512, 512, 512, 1500),
                 kernels: Sequence[int] = (5, 3, 3, 1, 1, 1), out_channels: int = 514,
                 negative_slope: float = 0.2, norm: str = "none", dilations: Sequence[int] | None = None):
        super().__init__()
        if len(kernels) != len(channels) + 1:
            raise ValueError(f"need one kernel per layer: {len(channels) + 1} layers, got {len(kernels)} kernels")
        dilations = tuple(dilations) if dilations is not None else (1,) * len(kernels)
        if len(dilations) != len(kernels):
            raise ValueError(f"need one dilation per layer: {len(kernels)} layers, got {len(dilations)} dilations")
        if norm not in ("none", "batch"):
            raise ValueError(f"norm must be 'none' or 'batch', got {norm!r}")
        widths = [in_bins, *channels, out_channels]
        layers: list[nn.Module] = []
        for c_in, c_out, k, d in zip(widths[:-1], widths[1:], kernels, dilations):
            layers.append(nn.Conv1d(c_in, c_out, k, padding=d * (k // 2), dilation=d))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(c_out))
            layers.append(nn.LeakyReLU(negative_slope))
        self.layers = nn.Sequential(*layers)
        self.out_channels = out_channels
        self.receptive_field = 1 + sum(d * (k - 1) for k, d in zip(kernels, dilations))  # frames

    def forward(self, spec):
        return self.layers(spec)
