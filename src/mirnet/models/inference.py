"""Inference-only rewrites of a trained model: the same function in fewer passes over memory.

Training and checkpoints never see these; ``mirnet.api.Embedder`` runs ``for_inference``'s copy
(measured gains and exactness: docs/lab/benchmarks.md; ``benchmarks/inference.py``)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` in which every BatchNorm that directly follows a
    convolution in an ``nn.Sequential`` is folded into that convolution's weight and bias (and
    replaced by Identity). In eval mode BatchNorm is a fixed per-channel affine map, so the
    result equals the original up to float rounding, without one read and write of every
    activation per norm. ``model`` itself is left as it is."""
    folded = copy.deepcopy(model).eval().requires_grad_(False)
    for seq in folded.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(1, len(seq)):
            conv, norm = seq[i - 1], seq[i]
            if isinstance(conv, _ConvNd) and isinstance(norm, _BatchNorm) and norm.track_running_stats:
                seq[i - 1], seq[i] = fuse_conv_bn_eval(conv, norm), nn.Identity()
    return folded


def for_inference(model: nn.Module) -> nn.Module:
    """BatchNorm folded, and 4-D (Conv2d) weights channels-last, which oneDNN's CPU convolutions
    run 1.4x faster for the paper's ResNet-18; a no-op for the compact model's 1-D convolutions."""
    return fold_batchnorm(model).to(memory_format=torch.channels_last)
