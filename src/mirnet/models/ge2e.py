"""A GE2E speaker encoder (Wan et al., 2018) with resemblyzer's architecture and front end, in
mirnet's model contract, so that the trainer can fine-tune it and the protocol can score it.

Why: resemblyzer's weights were trained on thousands of recorded voices, and behind the uPIT
separator they already beat every embedder mirnet trains on 51 (``docs/separation.md``). Its
package runs numpy preprocessing per clip and gives no gradients; this port computes the same
embedding in torch, batched, so that it can learn the separator's artifacts (the cascade) while
a frozen copy of itself, on the clean sources, is its teacher. ``train.init_from: resemblyzer``
and ``train.teacher: resemblyzer`` load the weights from the installed package
(``models.resemblyzer.pretrained_state_dict``); nothing is downloaded.

What it computes, as resemblyzer 0.1.4's ``preprocess_wav`` + ``embed_utterance`` do:
the waveform raised (never lowered) to -30 dBFS; a 40-band power mel spectrum (not log) of
25-ms Hann windows every 10 ms (librosa's Slaney filterbank, centred frames, zero padding); the
clip cut into 1.6-s partial windows at 1.3 per second (the last kept when at least 3/4 full,
the clip zero-padded to it); a 3-layer LSTM of 256 units per window, whose last hidden state
goes through a 256x256 linear layer, a ReLU and L2 normalisation; the normalised mean of the
windows' embeddings. The one step left out is the package's webrtcvad trimming of long
silences, which is not differentiable and, on 3-s clips, rarely removes anything.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..arguments import Positive, Size
from ..audio import SAMPLE_RATE
from ..registry import register
from .mirnet import ModelOutput


def slaney_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft//2+1): triangular filters on the Slaney mel scale (linear below 1 kHz,
    logarithmic above), each normalised to unit area; librosa.filters.mel's defaults."""

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        mel = f / (200.0 / 3)
        log = f >= 1000.0
        return np.where(log, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), (200.0 / 3) * m)

    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return (weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


class MelPower(nn.Module):
    """Waveform (B, samples) at 16 kHz -> power mel spectrum (B, frames, n_mels), after raising
    each clip to ``target_dbfs`` (never lowering it): the LSTM was trained on that scale."""

    def __init__(
        self,
        n_mels: Size = 40,
        win_ms: Positive = 25.0,
        hop_ms: Positive = 10.0,
        target_dbfs: float = -30.0,
        sample_rate: Size = SAMPLE_RATE,
    ):
        super().__init__()
        self.n_fft = round(win_ms * sample_rate / 1000)
        self.hop_length = round(hop_ms * sample_rate / 1000)
        self.target_dbfs = target_dbfs
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        fbank = slaney_mel_filterbank(sample_rate, self.n_fft, n_mels)
        self.register_buffer("fbank", torch.from_numpy(fbank), persistent=False)

    def raise_volume(self, wav: torch.Tensor) -> torch.Tensor:
        rms = wav.square().mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-5)
        change_db = (self.target_dbfs - 20 * torch.log10(rms)).clamp_min(0.0)
        return wav * 10 ** (change_db / 20)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            wav, self.n_fft, self.hop_length, window=self.window, center=True, pad_mode="constant",
            return_complex=True,
        )  # fmt: skip
        return torch.matmul(self.fbank, spec.abs().square()).transpose(1, 2)


class GE2ELSTM(nn.Module):
    """Mel windows (W, frames, n_mels) -> unit-norm non-negative embeddings (W, embed_dim)."""

    def __init__(self, in_dim: Size = 40, hidden: Size = 256, layers: Size = 3, embed_dim: Size = 256):
        super().__init__()
        self.lstm = nn.LSTM(in_dim, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, embed_dim)
        self.embed_dim = embed_dim

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        return F.normalize(F.relu(self.linear(hidden[-1])), dim=-1)


def partial_windows(n_samples: int, hop: int, window: int, rate: float, min_coverage: float):
    """Where resemblyzer cuts a clip of ``n_samples``: the first frame of each ``window``-frame
    partial, and the samples the clip is zero-padded to so that the last one is whole."""
    n_frames = math.ceil((n_samples + 1) / hop)
    step = round(SAMPLE_RATE / rate / hop)
    starts = list(range(0, max(1, n_frames - window + step + 1), step))
    if len(starts) > 1 and (n_samples - starts[-1] * hop) / (window * hop) < min_coverage:
        starts.pop()
    return starts, (starts[-1] + window) * hop


@register("ge2e")
class GE2E(nn.Module):
    """Waveform (B, samples) at 16 kHz -> ModelOutput with embeddings (B, 1, embed_dim): one
    embedding per clip, the single-embedding contract (``SingleSpeakerNet``'s)."""

    kind, n_speakers, has_masks = "embedder", 1, False

    def __init__(
        self,
        n_mels: Size = 40,
        hidden: Size = 256,
        layers: Size = 3,
        embed_dim: Size = 256,
        window_frames: Size = 160,
        rate: Positive = 1.3,
        min_coverage: Positive = 0.75,
    ):
        super().__init__()
        self.features = MelPower(n_mels)
        self.speaker_net = GE2ELSTM(n_mels, hidden, layers, embed_dim)
        self.embed_dim = embed_dim
        self.window_frames, self.rate, self.min_coverage = window_frames, rate, min_coverage

    def forward(self, wav: torch.Tensor) -> ModelOutput:
        if wav.dim() != 2:
            raise ValueError(f"expected waveforms of shape (batch, samples), got {tuple(wav.shape)}")
        hop = self.features.hop_length
        starts, padded = partial_windows(wav.shape[-1], hop, self.window_frames, self.rate, self.min_coverage)
        wav = F.pad(self.features.raise_volume(wav), (0, max(0, padded - wav.shape[-1])))
        mel = self.features(wav)  # (B, frames, n_mels)
        windows = torch.stack([mel[:, s : s + self.window_frames] for s in starts], dim=1)
        partial = self.speaker_net(windows.flatten(0, 1)).view(wav.shape[0], len(starts), -1)
        return ModelOutput(F.normalize(partial.mean(dim=1), dim=-1).unsqueeze(1))
