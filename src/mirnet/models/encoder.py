"""Speech encoder E_S (paper Table 1): frame-wise 1-D convolutions from the log spectrum to
N*D channels, where each block of D channels is meant to hold one speaker."""
from __future__ import annotations

from typing import Sequence

from torch import nn


class SpeechEncoder(nn.Module):
    """(B, bins, T) -> (B, N*D, T). Same-length padding keeps the frame grid of the input, so
    attention weights line up with the sources' power contours."""

    def __init__(self, in_bins: int = 257, channels: Sequence[int] = (512, 512, 512, 512, 1500),
                 kernels: Sequence[int] = (5, 3, 3, 1, 1, 1), out_channels: int = 514,
                 negative_slope: float = 0.2, norm: str = "none"):
        super().__init__()
        if len(kernels) != len(channels) + 1:
            raise ValueError(f"need one kernel per layer: {len(channels) + 1} layers, got {len(kernels)} kernels")
        if norm not in ("none", "batch"):
            raise ValueError(f"norm must be 'none' or 'batch', got {norm!r}")
        widths = [in_bins, *channels, out_channels]
        layers: list[nn.Module] = []
        for c_in, c_out, k in zip(widths[:-1], widths[1:], kernels):
            layers.append(nn.Conv1d(c_in, c_out, k, padding=k // 2))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(c_out))
            layers.append(nn.LeakyReLU(negative_slope))
        self.layers = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, spec):
        return self.layers(spec)
