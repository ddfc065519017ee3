"""Long recordings in chunks: the outputs keep one order from the first chunk to the last."""

from __future__ import annotations

import pytest
import torch

from mirnet.separation.chunking import chunk_starts, separate_in_chunks


def oracle_that_shuffles(sources: torch.Tensor, seed: int = 0):
    """A 'separator' that returns the true sources of the samples it is given, in a random
    order on every call: what a real separator is free to do."""
    g = torch.Generator().manual_seed(seed)
    mixture = sources.sum(0)
    calls = []

    def separate(chunk: torch.Tensor) -> torch.Tensor:
        n = chunk.shape[-1]
        start = next(s for s in range(mixture.shape[-1] - n + 1) if torch.equal(mixture[s : s + n], chunk[0]))
        perm = torch.randperm(sources.shape[0], generator=g)
        calls.append(perm.tolist())
        return sources[perm, start : start + n][None]

    return mixture, separate, calls


def speech_like(n: int, samples: int, seed: int) -> torch.Tensor:
    """Sources that differ everywhere: noise through different band-pass envelopes."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    return torch.stack(
        [
            torch.randn(samples, generator=g) * (1.2 + torch.sin(2 * torch.pi * (k + 1) * 0.7 * t))
            for k in range(n)
        ]
    )


@pytest.mark.parametrize("n", [2, 3])
def test_chunks_keep_one_order_across_permuting_calls(n):
    sources = speech_like(n, 16000 * 6 + 123, seed=n)
    mixture, separate, calls = oracle_that_shuffles(sources, seed=n)
    out = separate_in_chunks(separate, mixture, chunk=16000, overlap=4000)
    assert len(calls) == 8 and len({tuple(c) for c in calls}) > 1  # the order did change between chunks
    assert torch.allclose(out, sources[calls[0]], atol=1e-5)


def test_a_file_within_one_chunk_is_separated_in_one_call():
    sources = speech_like(2, 12000, seed=0)
    mixture, separate, calls = oracle_that_shuffles(sources)
    out = separate_in_chunks(separate, mixture, chunk=16000, overlap=4000)
    assert len(calls) == 1 and torch.equal(out, sources[calls[0]])


def test_chunk_starts_cover_the_file_and_end_flush():
    assert chunk_starts(100, 40, 10) == [0, 30, 60]
    assert chunk_starts(101, 40, 10) == [0, 30, 60, 61]
    assert chunk_starts(40, 40, 10) == [0]
    with pytest.raises(ValueError, match="overlap"):
        chunk_starts(100, 40, 40)
