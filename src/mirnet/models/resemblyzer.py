"""resemblyzer, a pretrained embedder from outside mirnet, wrapped with the embedders' contract
((B, samples) at 16 kHz -> (B, N, E)): the protocol scores it as a peer (``eval.peers``) on the
very trial list a mirnet model is scored on, and a conditioned separator can take its
embeddings of enrolled references (``separation.conditioning``). Its network and weights also
exist as a mirnet model that can be fine-tuned (``models.ge2e``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import MissingDependency


def _import():
    try:
        with warnings.catch_warnings():  # its own deprecated scipy import path, not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            import resemblyzer
    except ImportError as exc:
        raise MissingDependency(
            f"resemblyzer: cannot import it ({exc}); install it with pip install -e '.[peers]'"
        ) from None
    return resemblyzer


def pretrained_state_dict() -> dict[str, torch.Tensor]:
    """resemblyzer's GE2E weights, from the file its wheel ships, named as ``models.ge2e.GE2E``'s
    parameters: what ``train.init_from: resemblyzer`` and ``train.teacher: resemblyzer`` load."""
    path = Path(_import().__file__).parent / "pretrained.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    return {f"speaker_net.{k}": v for k, v in state.items() if k.startswith(("lstm.", "linear."))}


class Resemblyzer:
    """resemblyzer's pretrained GE2E speaker encoder (3-layer LSTM, 256-d, weights shipped in its
    wheel), applied the way the package embeds any recording: volume normalisation and VAD
    trimming of long silences (``preprocess_wav``), then the normalised mean of 1.6-s partial
    windows (``embed_utterance``). One embedding per clip, so (B, 1, 256): a single-embedding
    baseline, like the clean teacher.

    ``embed_utterance`` runs the LSTM once per clip on its two or three windows; here the windows
    of the whole batch go through it at once (same slices, same padding, same mean), which is
    where the peer spent its time in the protocol."""

    rate, min_coverage = 1.3, 0.75  # embed_utterance's defaults

    n_speakers = 1

    def __init__(self, device: str = "cpu"):
        resemblyzer = _import()
        self._preprocess, self._mel = resemblyzer.preprocess_wav, resemblyzer.audio.wav_to_mel_spectrogram
        self.encoder = resemblyzer.VoiceEncoder(device=device, verbose=False)
        self.embed_dim = self.encoder.linear.out_features

    def __call__(self, wavs: torch.Tensor) -> torch.Tensor:
        windows, counts = [], []
        for wav in wavs.numpy().astype(np.float32):
            wav = self._preprocess(wav)
            wav_slices, mel_slices = self.encoder.compute_partial_slices(
                len(wav), self.rate, self.min_coverage
            )
            mel = self._mel(np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav)))))
            windows += [mel[s] for s in mel_slices]
            counts.append(len(mel_slices))
        with torch.no_grad():
            partial = self.encoder(torch.from_numpy(np.stack(windows))).numpy()
        means = np.stack([p.mean(axis=0) for p in np.split(partial, np.cumsum(counts)[:-1])])
        return torch.from_numpy(means / np.linalg.norm(means, axis=1, keepdims=True))[:, None]
