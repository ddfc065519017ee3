"""Distances between two sets of speaker embeddings, as pairwise matrices (B, N, M): entry
[b, i, j] compares embedding i of the first set with embedding j of the second. The training
loss (a teacher's targets), the verification protocol (paper eq. 6/7) and the figures all measure
with these, so a trial's score and a loss term mean the same distance. Reducing a matrix to an
assignment is ``losses.pit``'s job."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, N, E), (B, M, E) -> (B, N, M) with 1 - cosine similarity."""
    return 1.0 - F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(-1, -2)


def pairwise_euclidean_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, N, E), (B, M, E) -> (B, N, M) Euclidean distances (the paper's protocol metric)."""
    return torch.cdist(a, b)


PAIRWISE_DISTANCES = {"cosine": pairwise_cosine_distance, "euclidean": pairwise_euclidean_distance}


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    if metric not in PAIRWISE_DISTANCES:
        raise ValueError(f"unknown metric {metric!r}; choose one of {sorted(PAIRWISE_DISTANCES)}")
    return PAIRWISE_DISTANCES[metric](a, b)


def closest_pair_distance(pairwise: torch.Tensor) -> torch.Tensor:
    """(B, N, M) -> (B,): min over all output pairs, paper eq. (6)/(7). Not a permutation:
    one shared speaker between two mixtures is enough for acceptance."""
    return pairwise.flatten(1).min(dim=1).values
