"""The recurrent layer the dual-path separators stack: a residual BLSTM over the middle axis of
(batch, length, D), normalised before it (pre-norm), projected back to D after it."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBLSTM(nn.Module):
    """(batch, length, D) -> (batch, length, D)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.rnn = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(self.rnn(self.norm(x))[0])
