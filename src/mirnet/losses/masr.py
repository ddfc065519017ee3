"""MASR's metadata-aware hard mining (Raj et al., ASRU 2023), as this project reads it.

Our sources hold only MASR's abstract: external knowledge enters "in the form of sample-level
pair-wise similarity matrices that are useful in a hard-mining loss", added to any base
objective. The formula below is our reading of that sentence, after its predecessor LASR (a
triplet objective over language labels); it is not the paper's text.

For a batch of B' embeddings e_i (after PIT alignment, so each carries its source's labels) and
metadata sources k (speaker, gender, language, engine, ...) with weights w_k:

    S_k[i, j] = 1 if items i and j share source k's value, 0 if they differ
    s[i, j]   = clip(sum_k w_k S_k[i, j] / sum_{k: w_k > 0} w_k, 0, 1)       (combine: weighted)
    s[i, j]   = max_{w_k > 0} S_k[i, j] * (1 - max_{w_k < 0} S_k[i, j])        (combine: or)

A source with a negative weight (the engine) lowers the similarity of the pairs that share it, so
voices are not pulled together for coming from the same synthesizer or recording setup. A value
a corpus does not know (``UNKNOWN``) is neither shared nor different: ``s`` becomes
an interval [low, high] over what the missing labels could be, and a pair counts only where the
interval decides it. With c[i, j] the cosine similarity, tau the threshold and m the margin:

    hard: positives P_i = {j != i : low[i, j] >= tau}, negatives N_i = {j : high[i, j] = 0}
          L = mean over anchors with both of  relu(m + max_{j in N_i} c[i, j] - min_{j in P_i} c[i, j])
    soft: over the pairs i != j whose s is known,
          L = mean of  s[i, j] (1 - c[i, j]) + (1 - s[i, j]) relu(c[i, j] - m)

In a mixture batch the two outputs of one mixture are different speakers, so they are each
other's negatives: the hard term pushes apart exactly the outputs that a detector-without-
separation would leave alike.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..data.mixing import UNKNOWN
from ..distances import pairwise_cosine_distance


def pairwise_shared(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B',) codes of one source -> (B', B') float "same value" matrix and bool "both known" mask."""
    known = codes != UNKNOWN
    return (codes[:, None] == codes[None, :]).float(), known[:, None] & known[None, :]


def _combine(shared: dict[str, torch.Tensor], weights: Mapping[str, float], combine: str) -> torch.Tensor:
    if combine == "or":
        pos = torch.stack([shared[k] for k, w in weights.items() if w > 0]).amax(0)
        neg = [shared[k] for k, w in weights.items() if w < 0]
        return pos * (1 - torch.stack(neg).amax(0)) if neg else pos
    total = sum(w * shared[k] for k, w in weights.items())
    return (total / sum(w for w in weights.values() if w > 0)).clamp(0, 1)


def metadata_similarity(
    codes: Mapping[str, torch.Tensor], weights: Mapping[str, float], combine: str = "weighted"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each source's (B',) codes and weight -> (low, high), both (B', B') in [0, 1]: the combined
    similarity with every unknown label taken at its least and at its most similar. Where every
    label involved is known, low == high."""
    if combine not in ("weighted", "or"):
        raise ValueError(f"combine must be 'weighted' or 'or', got {combine!r}")
    missing = sorted(set(weights) - set(codes))
    if missing:
        raise KeyError(f"no metadata {', '.join(missing)} in the batch; it has {', '.join(sorted(codes))}")
    least, most = {}, {}
    for name, w in weights.items():
        same, known = pairwise_shared(codes[name])
        low_fill, high_fill = (0.0, 1.0) if w > 0 else (1.0, 0.0)
        least[name] = torch.where(known, same, torch.full_like(same, low_fill))
        most[name] = torch.where(known, same, torch.full_like(same, high_fill))
    return _combine(least, weights, combine), _combine(most, weights, combine)


def masr_loss(
    similarity: torch.Tensor,
    low: torch.Tensor,
    high: torch.Tensor,
    *,
    threshold: float = 0.5,
    margin: float = 0.2,
    mining: str = "hard",
) -> torch.Tensor:
    """(B', B') cosine similarity of the embeddings and the metadata similarity's bounds -> the
    reduced loss. An item is never its own positive; a batch with nothing to mine gives 0 (still
    attached to the graph, so every rank's backward sees the same parameters)."""
    eye = torch.eye(similarity.shape[0], dtype=torch.bool, device=similarity.device)
    if mining == "soft":
        pairs = (low == high) & ~eye
        per_pair = low * (1 - similarity) + (1 - low) * torch.relu(similarity - margin)
        return (per_pair * pairs).sum() / pairs.sum().clamp_min(1)
    if mining != "hard":
        raise ValueError(f"mining must be 'hard' or 'soft', got {mining!r}")
    positive = (low >= threshold) & ~eye
    negative = (high <= 0) & ~eye
    hardest_pos = similarity.masked_fill(~positive, float("inf")).amin(1)
    hardest_neg = similarity.masked_fill(~negative, float("-inf")).amax(1)
    anchors = positive.any(1) & negative.any(1)
    if not anchors.any():
        return similarity.sum() * 0.0
    return torch.relu(margin + hardest_neg[anchors] - hardest_pos[anchors]).mean()


class MasrLoss(nn.Module):
    """Embeddings and their items' metadata codes -> the MASR term, configured once."""

    def __init__(
        self,
        sources: Mapping[str, float],
        combine: str = "weighted",
        threshold: float = 0.5,
        margin: float = 0.2,
        mining: str = "hard",
    ):
        super().__init__()
        if not any(w > 0 for w in sources.values()):
            raise ValueError(f"MASR needs a source with a positive weight, got {dict(sources)}")
        self.sources, self.combine = dict(sources), combine
        self.threshold, self.margin, self.mining = threshold, margin, mining

    def forward(self, embeddings: torch.Tensor, codes: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(B', E) embeddings, {source: (B',) codes} -> scalar."""
        low, high = metadata_similarity(codes, self.sources, self.combine)
        e = embeddings.float()[None]
        similarity = 1.0 - pairwise_cosine_distance(e, e)[0]
        return masr_loss(
            similarity, low, high, threshold=self.threshold, margin=self.margin, mining=self.mining
        )
