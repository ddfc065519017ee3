"""Separating recordings of any length in bounded memory: overlapping chunks, each chunk's
outputs put in the order of the output so far, then cross-faded linearly where they overlap.

A separator orders its outputs freely in every call, so chunk k's "speaker 1" need not be
chunk k-1's. Where two chunks overlap they hear the same audio, and the one permutation helper
(``losses/pit.py``) matches the new chunk's outputs to what has been written there, by SI-SDR.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..losses.pit import best_permutation
from ..losses.signal import pairwise_neg_sisdr
from ..progress import Progress, silent


def chunk_starts(samples: int, chunk: int, overlap: int) -> list[int]:
    """Chunk offsets covering ``samples``: every ``chunk - overlap``, the last one flush with the end."""
    if not 0 <= overlap < chunk:
        raise ValueError(f"need 0 <= overlap ({overlap}) < chunk ({chunk}) samples")
    if samples <= chunk:
        return [0]
    starts = list(range(0, samples - chunk, chunk - overlap))
    return starts + [samples - chunk]


def separate_in_chunks(
    separate: Callable[[torch.Tensor], torch.Tensor],
    wav: torch.Tensor,
    chunk: int,
    overlap: int,
    progress: Progress = silent,
) -> torch.Tensor:
    """(samples,) -> (N, samples) by ``separate``, which maps (1, n) to (1, N, n) for n <= chunk;
    ``progress``: a bar over the chunks (a long file takes minutes).

    Memory holds one chunk's activations and the (N, samples) output, whatever the length."""
    starts = chunk_starts(wav.shape[-1], chunk, overlap)
    out, end = None, 0  # output so far, written up to sample ``end``
    for start in progress(starts, desc="separating", unit="chunk", disable=len(starts) < 2, leave=False):
        est = separate(wav[None, start : start + chunk])[0]  # (N, n)
        if out is None:
            out = torch.zeros(est.shape[0], wav.shape[-1], dtype=est.dtype)
        shared = end - start
        if shared > 0:
            perm = best_permutation(pairwise_neg_sisdr(out[None, :, start:end], est[None, :, :shared]))[0]
            est = est[perm]
            fade = torch.linspace(0, 1, shared + 2, dtype=est.dtype)[1:-1]
            out[:, start:end] = out[:, start:end] * (1 - fade) + est[:, :shared] * fade
        out[:, end : start + est.shape[-1]] = est[:, max(shared, 0) :]
        end = start + est.shape[-1]
    return out
