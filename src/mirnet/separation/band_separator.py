"""Band-split dual-path separation on the STFT (after BSRNN: Luo and Yu, 2023): mixture waveform
-> N source waveforms, a drop-in for ``mask_separator`` in every config, verb and loss.

The complex spectrum is cut into K sub-bands, narrow where voices' harmonics lie apart (100 Hz
below 1 kHz) and wider above (250 Hz to 4 kHz, 500 Hz beyond). Each band's real and imaginary
parts are normalised and projected to D features, giving a (K, T, D) grid. Blocks then alternate
a BLSTM across time within each band with a BLSTM across the bands within each frame, each
residual, so every bin hears the whole utterance and the whole spectrum through small recurrent
layers whose weights every band or frame shares. Each band's own head returns a bounded complex
ratio mask per output.

Why beside the 2-layer frame BLSTM: that one reads all 513 bins through one input matrix and
under-fits its training voices (SI-SDRi on its training mixtures equals that on held-out ones,
docs/lab/separation.md). Here the recurrence over frequency is what models a voice's harmonic
structure, at a few hundred thousand parameters.

With ``embed_dim: D_e`` and one output it is conditioned (VoiceFilter's role): the normalised
target embedding is projected to D features and added to every cell of the grid. The projection
has no bias, so for a zero embedding a conditioned separator started from a uPIT one
(``start_from``) is that separator's first output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..arguments import Count, Positive, Size
from ..errors import ConfigError
from ..registry import register
from .recurrence import ResidualBLSTM
from .spectral import SpectralSeparator, bounded_masks
from .warm_start import start_from_state


def band_edges(
    n_bins: int, bin_hz: float, splits_hz: Sequence[float], widths_hz: Sequence[float]
) -> list[int]:
    """Bin indices [0, ..., n_bins] that cut the spectrum into bands of ``widths_hz[i]`` up to
    ``splits_hz[i]``; the last band runs to the top bin. Bands narrower than a bin are merged."""
    if len(splits_hz) != len(widths_hz) or not splits_hz:
        raise ConfigError(
            "band_splits_hz and band_widths_hz: expected two lists of the same, non-zero length"
        )
    edges, low = [0], 0.0
    for split, width in zip(splits_hz, widths_hz):
        if width <= 0:
            raise ConfigError(f"band_widths_hz: expected positive widths, got {width}")
        while low + width <= split + 1e-9:
            low += width
            edge = min(round(low / bin_hz), n_bins)
            if edge > edges[-1]:
                edges.append(edge)
    if edges[-1] < n_bins - 1:
        edges.append(n_bins)
    else:
        edges[-1] = n_bins  # the top bin joins the last band
    return edges


@register("band_separator")
class BandSeparator(SpectralSeparator):
    """(B, samples) at 16 kHz [, (B, embed_dim) target embeddings] -> (B, n_outputs, samples)."""

    def __init__(
        self,
        n_outputs: Size = 2,
        embed_dim: Count = 0,
        features: dict | None = None,
        band_splits_hz: Sequence[float] = (1000.0, 4000.0, 8000.0),
        band_widths_hz: Sequence[float] = (100.0, 250.0, 500.0),
        dim: Size = 48,
        hidden: Size = 64,
        blocks: Size = 3,
        head_dim: Size = 128,
        mask_bound: Positive = 2.0,
        consistency: str = "none",
    ):
        super().__init__(n_outputs, embed_dim, features, consistency)
        self.mask_bound = mask_bound
        bins = self.features.n_bins
        self.edges = band_edges(
            bins, self.features.sample_rate / self.features.n_fft, band_splits_hz, band_widths_hz
        )
        widths = [hi - lo for lo, hi in zip(self.edges, self.edges[1:])]
        self.split = nn.ModuleList(nn.Sequential(nn.LayerNorm(2 * w), nn.Linear(2 * w, dim)) for w in widths)
        self.embed_proj = nn.Linear(embed_dim, dim, bias=False) if embed_dim else None
        self.blocks = nn.ModuleList(
            nn.ModuleList([ResidualBLSTM(dim, hidden), ResidualBLSTM(dim, hidden)]) for _ in range(blocks)
        )
        # per band: outputs-major rows (N, re/im, width), so a one-output model can take the first
        # output's rows of a uPIT model's head (start_from)
        self.heads = nn.ModuleList(
            nn.Sequential(
                nn.LayerNorm(dim), nn.Linear(dim, head_dim), nn.Tanh(), nn.Linear(head_dim, n_outputs * 2 * w)
            )
            for w in widths
        )

    def start_from(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Take another BandSeparator's weights as this one's start: equal shapes are copied, and
        each head's last layer keeps the first output's rows; the embedding's projection keeps its
        own random start. Returns the names it could not fill."""
        return start_from_state(
            self, state, lambda name: name.startswith("heads.") and name.split(".")[2] == "3"
        )

    def masks(self, spec: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Complex mixture STFT (B, F, T) -> complex masks (B, n_outputs, F, T)."""
        x = torch.view_as_real(spec.transpose(1, 2))  # (B, T, F, 2)
        b, t = x.shape[:2]
        z = torch.stack(
            [band(x[:, :, lo:hi].flatten(2)) for band, lo, hi in zip(self.split, self.edges, self.edges[1:])],
            1,
        )  # (B, K, T, D)
        if self.embed_dim:
            z = z + self.embed_proj(self.target_embedding(embedding, b, z.dtype))[:, None, None, :]
        k, d = z.shape[1], z.shape[-1]
        for over_time, over_bands in self.blocks:
            z = over_time(z.reshape(b * k, t, d)).view(b, k, t, d)
            z = over_bands(z.transpose(1, 2).reshape(b * t, k, d)).view(b, t, k, d).transpose(1, 2)
        m = torch.cat(
            [head(z[:, i]).float().view(b, t, self.n_outputs, 2, -1) for i, head in enumerate(self.heads)], -1
        )  # (B, T, N, 2, F)
        return bounded_masks(m.permute(0, 2, 3, 4, 1), "complex", self.mask_bound)  # from (B, N, 2, F, T)
