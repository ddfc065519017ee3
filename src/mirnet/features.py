"""Spectra computed inside the model (``torch.stft``), so feature extraction runs on whatever
device the model is on and checkpoints carry their feature settings: the log-magnitude
spectrum the embedders read, and the invertible complex spectrogram separators mask."""

from __future__ import annotations

import math

import torch
from torch import nn

from .arguments import Positive, Size
from .audio import SAMPLE_RATE
from .errors import ConfigError


class Spectrogram(nn.Module):
    """Waveform (B, samples) at 16 kHz <-> complex STFT (B, n_fft//2+1, frames).

    Paper settings by default: 32 ms Hann window, 10 ms hop, 512-point FFT, 257 bins; centred,
    so that ``inverse`` (``torch.istft``: overlap-add divided by the summed squared window)
    returns the waveform to float rounding, and a mask of ones is the identity."""

    def __init__(
        self,
        n_fft: Size = 512,
        win_ms: Positive = 32.0,
        hop_ms: Positive = 10.0,
        sample_rate: Size = SAMPLE_RATE,
    ):
        super().__init__()
        self.n_fft, self.sample_rate = n_fft, sample_rate
        self.win_length = round(win_ms * sample_rate / 1000)
        self.hop_length = round(hop_ms * sample_rate / 1000)
        if not 0 < self.win_length <= n_fft:
            raise ConfigError(
                f"win_ms: the window ({self.win_length} samples) must hold 1 to n_fft={n_fft} samples"
            )
        if self.hop_length < 1:
            raise ConfigError(f"hop_ms: the hop ({hop_ms} ms) must be at least one sample")
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        return torch.stft(
            wav, self.n_fft, self.hop_length, self.win_length, self.window, center=True, return_complex=True
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.stft(wav)

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """(..., bins, frames) complex -> (..., length) real."""
        lead = spec.shape[:-2]
        wav = torch.istft(
            spec.reshape(-1, *spec.shape[-2:]),
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            center=True,
            length=length,
        )
        return wav.view(*lead, length)


class LogMagnitudeSpectrum(Spectrogram):
    """Waveform (B, samples) at 16 kHz -> log |STFT| (B, n_fft//2+1, frames).

    The linear-frequency (not mel) spectrum keeps the harmonic detail that tells voices apart.
    ``mean_norm`` subtracts each bin's mean over time (cepstral-mean-style), removing channel
    and level offsets that carry no identity.
    """

    def __init__(
        self,
        n_fft: Size = 512,
        win_ms: Positive = 32.0,
        hop_ms: Positive = 10.0,
        sample_rate: Size = SAMPLE_RATE,
        mean_norm: bool = True,
        eps: Positive = 1e-6,
    ):
        super().__init__(n_fft, win_ms, hop_ms, sample_rate)
        self.mean_norm, self.eps = mean_norm, eps

    def magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        return self.stft(wav).abs()

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() != 2:
            raise ValueError(f"expected waveforms of shape (batch, samples), got {tuple(wav.shape)}")
        logmag = torch.log(self.magnitude(wav) + self.eps)
        if self.mean_norm:
            logmag = logmag - logmag.mean(dim=-1, keepdim=True)
        return logmag

    def log_ratio_masks(self, sources: torch.Tensor, floor_db: float) -> torch.Tensor:
        """(B, N, samples) -> (B, N, bins, frames): log(|S_k| / |X|) of each source against the
        mixture X = sum of sources, clipped to [-floor_db, 0] dB (in nepers). A local target: the
        mean normalisation of the features would make it depend on whole-utterance statistics,
        and phase cancellation (|S_k| > |X|) or absent sources would give unbounded values."""
        mag = self.magnitude(sources.flatten(0, 1))
        mag = mag.view(*sources.shape[:2], *mag.shape[1:])
        mixture = self.magnitude(sources.sum(dim=1)).unsqueeze(1)
        return (torch.log(mag + self.eps) - torch.log(mixture + self.eps)).clamp(
            -floor_db * math.log(10) / 20, 0.0
        )

    def frame_power(self, wav: torch.Tensor) -> torch.Tensor:
        """Per-frame energy (…, frames) on the same frame grid: the target for attention weights."""
        shape = wav.shape[:-1]
        mag = self.magnitude(wav.reshape(-1, wav.shape[-1]))
        return mag.square().sum(dim=-2).reshape(*shape, -1)
