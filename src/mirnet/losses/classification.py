"""Speaker classifiers for the identity labels, with their pairwise cross-entropy.

``linear`` is the paper's softmax classifier. ``cosine`` is an additive-margin softmax on
normalised embeddings and class centres: it trains the same angular geometry that cosine
scoring in the verification protocol then uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpeakerClassifier(nn.Module):
    def __init__(
        self, embed_dim: int, n_classes: int, kind: str = "cosine", scale: float = 30.0, margin: float = 0.2
    ):
        super().__init__()
        if kind not in ("linear", "cosine"):
            raise ValueError(f"classifier kind must be 'linear' or 'cosine', got {kind!r}")
        self.kind, self.scale, self.margin = kind, scale, margin
        self.weight = nn.Parameter(torch.randn(n_classes, embed_dim) * embed_dim**-0.5)
        self.bias = nn.Parameter(torch.zeros(n_classes)) if kind == "linear" else None

    def logits(self, emb: torch.Tensor) -> torch.Tensor:
        """(…, E) -> (…, C) logits without margin (what predictions use)."""
        if self.kind == "linear":
            return F.linear(emb, self.weight, self.bias)
        return self.scale * F.normalize(emb, dim=-1) @ F.normalize(self.weight, dim=-1).t()

    def pairwise_cross_entropy(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, N, E) outputs, (B, M) labels -> (B, N, M): CE of output k against speaker j,
        with the margin applied to speaker j's class as if it were the target."""
        logits = self.logits(emb)  # (B, N, C)
        b, n, _ = logits.shape
        m = labels.shape[1]
        target = logits.gather(2, labels.unsqueeze(1).expand(b, n, m))  # (B, N, M)
        if self.kind == "cosine" and self.margin:
            margined = target - self.scale * self.margin
            # logsumexp over classes with the target's logit replaced by its margined value
            lse = torch.logsumexp(logits, dim=-1, keepdim=True)
            lse = lse + torch.log1p(torch.expm1(margined - target) * torch.exp(target - lse))
            return lse - margined
        return torch.logsumexp(logits, dim=-1, keepdim=True) - target
