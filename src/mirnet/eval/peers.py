"""Pretrained systems from outside mirnet, wrapped with the protocol's embedder contract
((B, samples) at 16 kHz -> (B, N, E)), so that `trial_scores` scores them unchanged on the very
trial list a mirnet model is scored on: every claim then stands beside a peer's number.

Peers are reserved names for `mirnet eval` (``mirnet eval resemblyzer --data ...``).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch


class Resemblyzer:
    """resemblyzer's pretrained GE2E speaker encoder (3-layer LSTM, 256-d, weights shipped in its
    wheel), applied the way the package embeds any recording: volume normalisation and VAD
    trimming of long silences (``preprocess_wav``), then the normalised mean of 1.6-s partial
    windows (``embed_utterance``). One embedding per clip, so (B, 1, 256): a single-embedding
    baseline, like the clean teacher."""

    n_speakers = 1

    def __init__(self, device: str = "cpu"):
        try:
            with warnings.catch_warnings():  # its own deprecated scipy import path, not ours to fix
                warnings.simplefilter("ignore", DeprecationWarning)
                import resemblyzer
        except ImportError as exc:
            raise RuntimeError(f"resemblyzer: cannot import it ({exc}); install it with pip install -e '.[peers]'") from None
        self._preprocess = resemblyzer.preprocess_wav
        self.encoder = resemblyzer.VoiceEncoder(device=device, verbose=False)
        self.embed_dim = self.encoder.linear.out_features

    def __call__(self, wavs: torch.Tensor) -> torch.Tensor:
        rows = [self.encoder.embed_utterance(self._preprocess(w)) for w in wavs.numpy().astype(np.float32)]
        return torch.from_numpy(np.stack(rows))[:, None]


PEERS = {"resemblyzer": Resemblyzer}
