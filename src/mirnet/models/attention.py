"""Spectral attention with channel exchange (paper eq. 2), generalised to N speakers.

Stream k sees the encoder output with its N channel blocks rotated by k (for N=2 this is
exactly eq. 2: V2 = [V1[D:2D], V1[0:D]]). One attention layer (fc 64 tanh, fc 1 sigmoid)
and one fully-connected output layer are shared by all streams, so the only thing that makes
streams differ is which block sits first: permuting the encoder's blocks permutes the streams.

Reading of the paper chosen here: the output fc of stream k reads its own rotated V_k
(``fc_input='exchanged'``), so the streams can carry different channel halves. The other
reading, every stream's fc reading V1 (``fc_input='shared'``), leaves streams differing only
by their temporal weights; it is kept as an option to compare against, not yet measured here.

``output='residual'`` (not in the paper; an option measured for the compact model): Z_k =
W_k * (S + A_k V1) + b, linear, where S is the input log spectrum. A speaker network that
reads spectra (e.g. started from a clean single-speaker model) then sees the mixture spectrum
at initialisation, and the fc only has to learn a log-domain correction per speaker — a mask.

Computation: a linear layer applied to rotated channels equals the layer with its weight
columns rotated the other way applied to V1, and fc(w * v) = w * (A v) + b for a per-frame
scalar w. So all N streams come from two 1x1 convolutions over V1 with stacked, rotated
weights — no rotated copies of V1 are made (faster than rotating activations; measured by
benchmarks/attention_speed.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..arguments import Size, choose


def rotate_blocks(v: torch.Tensor, n_blocks: int, shift: int) -> torch.Tensor:
    """Rotate axis 1 of ``v`` by ``shift`` blocks of size C/n_blocks: block k+shift comes first."""
    b, c = v.shape[:2]
    blocks = v.reshape(b, n_blocks, c // n_blocks, *v.shape[2:])
    return torch.roll(blocks, shifts=-shift, dims=1).reshape(v.shape)


class SpectralAttention(nn.Module):
    """(B, N*D, T) -> Z (B, N, out_dim, T), attention weights W (B, N, T) in [0, 1], and with
    ``output='residual'`` the log-domain masks M_k = A_k V + b (B, N, out_dim, T) that stream k
    adds to the spectrum before its frame weight (None otherwise): what a separation target can
    supervise without the network having to predict W to undo it."""

    def __init__(
        self,
        channels: Size,
        n_speakers: Size = 2,
        hidden: Size = 64,
        out_dim: Size = 257,
        fc_input: str = "exchanged",
        negative_slope: float = 0.2,
        output: str = "direct",
    ):
        super().__init__()
        choose("fc_input", fc_input, ("exchanged", "shared"))
        choose("output", output, ("direct", "residual"))
        self.n_speakers, self.fc_input, self.negative_slope, self.output = (
            n_speakers,
            fc_input,
            negative_slope,
            output,
        )
        self.score = nn.Sequential(nn.Linear(channels, hidden), nn.Tanh(), nn.Linear(hidden, 1), nn.Sigmoid())
        self.fc = nn.Sequential(nn.Linear(channels, out_dim), nn.LeakyReLU(negative_slope))
        self.out_dim = out_dim

    def _stream_weights(self, weight: torch.Tensor, rotate: bool) -> torch.Tensor:
        """(out, C) -> (N*out, C, 1): stream k's weights act on V1 as ``weight`` acts on V_k."""
        n = self.n_speakers
        streams = [rotate_blocks(weight, n, -k) if rotate else weight for k in range(n)]
        return torch.cat(streams).unsqueeze(-1)

    def forward(
        self, v1: torch.Tensor, spec: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``spec`` (B, out_dim, T), the input spectrum, is needed by ``output='residual'``."""
        n, (b, _, t) = self.n_speakers, v1.shape
        fc1, fc2 = self.score[0], self.score[2]
        hidden = torch.tanh(F.conv1d(v1, self._stream_weights(fc1.weight, True), fc1.bias.repeat(n)))
        hidden = hidden.view(b, n, -1, t)  # (B, N, hidden, T)
        weights = torch.sigmoid(torch.einsum("bnht,h->bnt", hidden, fc2.weight[0]) + fc2.bias)  # (B, N, T)
        fc = self.fc[0]
        projected = F.conv1d(v1, self._stream_weights(fc.weight, self.fc_input == "exchanged")).view(
            b, n, -1, t
        )
        w, bias = weights.unsqueeze(2), fc.bias[:, None]
        if self.output == "residual":
            if spec is None or spec.shape[1] != self.out_dim:
                raise ValueError(f"output='residual' needs the {self.out_dim}-bin input spectrum")
            return w * (spec.unsqueeze(1) + projected) + bias, weights, projected + bias
        return F.leaky_relu(w * projected + bias, self.negative_slope), weights, None
