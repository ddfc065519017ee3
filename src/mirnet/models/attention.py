"""Spectral attention with channel exchange (paper eq. 2), generalised to N speakers.

Stream k sees the encoder output with its N channel blocks rotated by k (for N=2 this is
exactly eq. 2: V2 = [V1[D:2D], V1[0:D]]). One attention layer (fc 64 tanh, fc 1 sigmoid)
and one fully-connected output layer are shared by all streams, so the only thing that makes
streams differ is which block sits first: permuting the encoder's blocks permutes the streams.

Reading of the paper chosen here: the output fc of stream k reads its own rotated V_k
(``fc_input='exchanged'``), so the streams can carry different channel halves. The other
reading, every stream's fc reading V1 (``fc_input='shared'``), leaves streams differing only
by their temporal weights; it is kept as an option because it was measured once (README).
"""
from __future__ import annotations

import torch
from torch import nn


def rotate_blocks(v: torch.Tensor, n_blocks: int, shift: int) -> torch.Tensor:
    """Rotate the channel axis (dim 1) of ``v`` by ``shift`` blocks of size C/n_blocks."""
    b, c = v.shape[:2]
    blocks = v.reshape(b, n_blocks, c // n_blocks, *v.shape[2:])
    return torch.roll(blocks, shifts=-shift, dims=1).reshape(v.shape)


class SpectralAttention(nn.Module):
    """(B, N*D, T) -> Z (B, N, out_dim, T) and attention weights W (B, N, T) in [0, 1]."""

    def __init__(self, channels: int, n_speakers: int = 2, hidden: int = 64, out_dim: int = 257,
                 fc_input: str = "exchanged", negative_slope: float = 0.2):
        super().__init__()
        if channels % n_speakers:
            raise ValueError(f"encoder channels {channels} must split into {n_speakers} equal blocks")
        if fc_input not in ("exchanged", "shared"):
            raise ValueError(f"fc_input must be 'exchanged' or 'shared', got {fc_input!r}")
        self.n_speakers, self.fc_input = n_speakers, fc_input
        self.score = nn.Sequential(nn.Linear(channels, hidden), nn.Tanh(), nn.Linear(hidden, 1), nn.Sigmoid())
        self.fc = nn.Sequential(nn.Linear(channels, out_dim), nn.LeakyReLU(negative_slope))
        self.out_dim = out_dim

    def forward(self, v1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.n_speakers
        streams = torch.stack([rotate_blocks(v1, n, k) for k in range(n)], dim=1)  # (B, N, C, T)
        frames = streams.transpose(2, 3)  # (B, N, T, C)
        weights = self.score(frames).squeeze(-1)  # (B, N, T)
        fc_in = frames if self.fc_input == "exchanged" else frames[:, :1].expand_as(frames)
        z = self.fc(weights.unsqueeze(-1) * fc_in)  # (B, N, T, out_dim)
        return z.transpose(2, 3), weights
