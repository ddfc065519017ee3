"""Speaker networks: a sequence of feature frames (B, F, T) -> one embedding (B, E).

Both MIRNet (on its attended streams) and the single-embedding baseline (on the clean log
spectrum) use these, which is what lets a network trained on clean speech initialise the
speaker network of a MIRNet.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..arguments import Size, choose
from ..errors import ConfigError


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.skip(x))


# ResNet-18's stem, which the paper does not give: ``3x3`` keeps the full (F, T) plane through the
# first stage, as speaker-verification ResNets do; ``3x3/2`` halves both axes; ``imagenet`` is
# He et al.'s 7x7 convolution at stride 2 and 3x3 max-pool at stride 2 (a quarter of each axis).
# Stage 1 holds most of the FLOPs, so the choice sets the model's cost (docs/lab/benchmarks.md).
STEMS = {"3x3": (3, 1, False), "3x3/2": (3, 2, False), "imagenet": (7, 2, True)}  # kernel, stride, pool


class ResNet18(nn.Module):
    """The paper's speaker network: ResNet-18 (2-2-2-2 basic blocks) over the (F, T) plane,
    frequency averaged, then temporal average pooling (TAP) and a linear embedding layer."""

    def __init__(
        self,
        in_dim: Size = 257,
        embed_dim: Size = 512,
        widths: Sequence[Size] = (64, 128, 256, 512),
        blocks: Sequence[Size] = (2, 2, 2, 2),
        stem: str = "3x3",
    ):
        super().__init__()
        choose("stem", stem, tuple(STEMS))
        kernel, stride, pool = STEMS[stem]
        if not widths:
            raise ConfigError("widths: expected a non-empty list (one width per stage)")
        if len(blocks) != len(widths):
            raise ConfigError(
                f"blocks: need one block count per stage: {len(widths)} widths, got {len(blocks)} counts"
            )
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            *([nn.MaxPool2d(3, 2, 1)] if pool else []),
        )
        layers, c_in = [], widths[0]
        for i, (c_out, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(_BasicBlock(c_in, c_out, 2 if (i > 0 and j == 0) else 1))
                c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.embed = nn.Linear(c_in, embed_dim)
        self.in_dim, self.embed_dim = in_dim, embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layers(self.stem(x.unsqueeze(1)))  # (B, C, F', T')
        return self.embed(h.mean(dim=2).mean(dim=-1))  # frequency mean, then TAP


class TDNN(nn.Module):
    """x-vector style 1-D network with dilated context and mean+std statistics pooling: the
    cheap speaker network that makes CPU training of a compact MIRNet practical. ``stride``
    subsamples frames in the first layer (Kaldi-style frame subsampling), halving the cost of
    every later layer at stride 2."""

    def __init__(
        self,
        in_dim: Size = 257,
        embed_dim: Size = 192,
        channels: Size = 256,
        dilations: Sequence[Size] = (1, 2, 3, 1),
        kernels: Sequence[Size] = (5, 3, 3, 1),
        pool_channels: Size = 768,
        stride: Size = 1,
    ):
        super().__init__()
        if len(dilations) != len(kernels):
            raise ConfigError(
                f"dilations: need one per layer: {len(kernels)} kernels, got {len(dilations)} dilations"
            )
        layers, c_in = [], in_dim
        for i, (k, d) in enumerate(zip(kernels, dilations)):
            layers += [
                nn.Conv1d(
                    c_in, channels, k, stride=stride if i == 0 else 1, dilation=d, padding=d * (k // 2)
                ),
                nn.BatchNorm1d(channels),
                nn.ReLU(inplace=True),
            ]
            c_in = channels
        layers += [nn.Conv1d(c_in, pool_channels, 1), nn.BatchNorm1d(pool_channels), nn.ReLU(inplace=True)]
        self.frames = nn.Sequential(*layers)
        # no BatchNorm on the embedding: its running statistics lag the weights early in
        # training and, measured here, cost most of the eval-mode accuracy of short CPU runs
        self.embed = nn.Linear(2 * pool_channels, embed_dim)
        self.in_dim, self.embed_dim = in_dim, embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.frames(x)
        stats = torch.cat([h.mean(dim=-1), torch.sqrt(h.var(dim=-1, unbiased=False) + 1e-5)], dim=-1)
        return self.embed(stats)


SPEAKER_NETS = {"resnet18": ResNet18, "tdnn": TDNN}


def speaker_net_class(name: str) -> type[nn.Module]:
    """The class a model's ``speaker_net.name`` names."""
    if not isinstance(name, str) or name not in SPEAKER_NETS:
        raise ConfigError(
            f"speaker_net.name: unknown speaker network {name!r}; choose one of {', '.join(SPEAKER_NETS)}"
        )
    return SPEAKER_NETS[name]


def build_speaker_net(name: str, **kwargs) -> nn.Module:
    return speaker_net_class(name)(**kwargs)
