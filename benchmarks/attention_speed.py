"""Spectral attention: rotated weights (mirnet) vs rotating the activations as eq. (2) reads,
same function, same process; prints ms per forward+backward and the ratio.

    python benchmarks/attention_speed.py [--threads 1] [--batch 32]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from mirnet.models.attention import SpectralAttention, rotate_blocks


def rotate_activations(att: SpectralAttention, v1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The literal formulation: N rotated copies of V1, then the shared layers on each."""
    streams = torch.stack([rotate_blocks(v1, att.n_speakers, k) for k in range(att.n_speakers)], 1)
    frames = streams.transpose(2, 3)
    weights = att.score(frames).squeeze(-1)
    return att.fc(weights.unsqueeze(-1) * frames).transpose(2, 3), weights


def timed(fn, v1, repeats: int) -> float:
    fn(v1)[0].sum().backward()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        z, w = fn(v1)
        (z.sum() + w.sum()).backward()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    att = SpectralAttention(514, 2, 64, 257)
    v1 = torch.randn(a.batch, 514, 301, requires_grad=True)  # 3 s of frames, paper widths
    z1, w1 = att(v1)
    z2, w2 = rotate_activations(att, v1)
    assert torch.allclose(z1, z2, atol=1e-4) and torch.allclose(w1, w2, atol=1e-5)
    literal = timed(lambda v: rotate_activations(att, v), v1, a.repeats)
    rotated = timed(att, v1, a.repeats)
    print(
        json.dumps(
            {
                "threads": a.threads,
                "batch": a.batch,
                "literal_ms": round(literal, 1),
                "rotated_weights_ms": round(rotated, 1),
                "speedup": round(literal / rotated, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
