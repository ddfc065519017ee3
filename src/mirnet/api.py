"""Python API: ``mirnet.load(EXP).embed(waveform)`` -> (N, D) speaker embeddings."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .audio import SAMPLE_RATE, check_waveform, load_audio, to_mono_16k
from .models.inference import for_inference
from .train.checkpoint import load_model


class Embedder:
    """A trained model plus the facts a caller needs: how many speakers it separates
    (``n_speakers``), the embedding size, and the training speakers it was taught.

    ``model`` is the model as trained; embeddings come from a copy of it made here, with BatchNorm
    folded into the convolutions and channels-last 2-D convolutions (same embeddings to float
    rounding, faster: README, Benchmarks), so a later change to ``model``'s weights does not reach them."""

    def __init__(self, model: torch.nn.Module, bundle: dict, source: str = ""):
        self.model, self.bundle, self.source = model.eval(), bundle, source
        self._fast = for_inference(self.model)
        self.n_speakers = getattr(model, "n_speakers", 1)
        self.embed_dim = model.embed_dim
        self.speakers = bundle.get("speakers", [])
        # the shortest input the model takes: its STFT pads each end by n_fft/2 by reflection
        self.shortest_seconds = (model.features.n_fft // 2 + 1) / SAMPLE_RATE

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "Embedder":
        model, bundle = load_model(path)
        return cls(model, bundle, str(path))

    def embed_batch(self, wavs: torch.Tensor) -> torch.Tensor:
        """(B, samples) float at 16 kHz -> (B, N, D); no checks, for trusted pipelines."""
        with torch.inference_mode():
            return self._fast(wavs).embeddings

    def embed(self, waveform, sample_rate: int = SAMPLE_RATE, min_seconds: float = 0.5) -> torch.Tensor:
        """One waveform, (samples,) or (samples, channels), at ``sample_rate`` -> (N, D).

        Stereo is downmixed and other rates resampled to 16 kHz (logged); empty, non-finite,
        silent or too-short input raises AudioError."""
        wav = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
        wav = check_waveform(to_mono_16k(wav.astype(np.float32), sample_rate),
                             min_seconds=max(min_seconds, self.shortest_seconds))
        return self.embed_batch(torch.from_numpy(wav)[None])[0]

    def embed_file(self, path: str | Path, min_seconds: float = 0.5) -> torch.Tensor:
        wav = load_audio(path, min_seconds=max(min_seconds, self.shortest_seconds))
        return self.embed_batch(torch.from_numpy(wav)[None])[0]
