"""The training objective for N-speaker mixtures: a weighted sum of pairwise matrices
(output k vs speaker j), reduced by the one permutation helper. Summing before the reduction
makes every term agree on a single assignment of outputs to speakers.

Terms: speaker cross-entropy (paper eq. 3-5); optionally the cosine distance to a clean
teacher's embedding of each source, a BCE pulling stream k's attention weights toward speaker
j's share of each frame's power, and the mean squared error between stream k's log-domain mask
and speaker j's clipped log ratio to the mixture, and the negative SI-SDR of a separating
embedder's stream k against source j (these need the sources, which on-the-fly mixing has).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..distances import pairwise_cosine_distance
from ..features import LogMagnitudeSpectrum
from ..models import ModelOutput
from .classification import SpeakerClassifier
from .pit import pit_reduce
from .signal import pairwise_neg_sisdr


def pairwise_attention_bce(attention: torch.Tensor, share: torch.Tensor) -> torch.Tensor:
    """(B, N, T) weights in [0,1], (B, M, T) power shares -> (B, N, M) mean BCE over frames."""
    n, m = attention.shape[1], share.shape[1]
    a = attention.clamp(1e-6, 1 - 1e-6).unsqueeze(2).expand(-1, n, m, -1)
    s = share.unsqueeze(1).expand(-1, n, m, -1)
    return F.binary_cross_entropy(a, s, reduction="none").mean(-1)


def pairwise_mse(estimates: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B, N, F, T), (B, M, F, T) -> (B, N, M) mean squared error, without an (N, M) copy."""
    z, s = estimates.flatten(2), targets.flatten(2)
    cross = torch.einsum("bnd,bmd->bnm", z, s)
    return ((z * z).sum(-1)[:, :, None] + (s * s).sum(-1)[:, None, :] - 2 * cross) / z.shape[-1]


def power_share(frame_power: torch.Tensor) -> torch.Tensor:
    """(B, N, T) source powers -> each source's share of the frame's power, 0 in silence."""
    total = frame_power.sum(dim=1, keepdim=True)
    return frame_power / total.clamp_min(1e-8 * total.amax(dim=-1, keepdim=True).clamp_min(1e-12))


class MixtureLoss(nn.Module):
    def __init__(
        self,
        classifier: SpeakerClassifier,
        *,
        ce_weight: float = 1.0,
        teacher: nn.Module | None = None,
        teacher_weight: float = 0.0,
        attention_weight: float = 0.0,
        mask_weight: float = 0.0,
        mask_floor_db: float = 30.0,
        signal_weight: float = 0.0,
    ):
        super().__init__()
        if teacher_weight and teacher is None:
            raise ValueError("teacher_weight > 0 needs a teacher model")
        self.classifier, self.ce_weight = classifier, ce_weight
        self.teacher_weight, self.attention_weight = teacher_weight, attention_weight
        self.mask_weight, self.mask_floor_db = mask_weight, mask_floor_db
        self.signal_weight = signal_weight
        self.teacher = (
            teacher.eval().requires_grad_(False) if teacher is not None and teacher_weight else None
        )

    def forward(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        sources: torch.Tensor | None = None,
        features: LogMagnitudeSpectrum | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns the batch loss and, for logging, each term under the chosen permutation,
        the PIT accuracy and the permutation itself. ``features`` is the model's own front end,
        which defines the sources' power contours and spectra on the model's frame grid."""
        ce = self.classifier.pairwise_cross_entropy(out.embeddings, labels)
        terms = {"ce": ce}
        total = self.ce_weight * ce
        if self.teacher is not None:
            b, n = sources.shape[:2]
            with torch.no_grad():
                target = self.teacher(sources.flatten(0, 1)).embeddings.view(b, n, -1)
            terms["teacher"] = pairwise_cosine_distance(out.embeddings, target)
            total = total + self.teacher_weight * terms["teacher"]
        if self.attention_weight and out.attention is not None:
            share = power_share(features.frame_power(sources))
            terms["attention"] = pairwise_attention_bce(out.attention, share)
            total = total + self.attention_weight * terms["attention"]
        if self.mask_weight:
            if out.masks is None:
                raise ValueError(
                    "loss.mask_weight needs a model with log-domain masks (attention output: residual)"
                )
            with torch.no_grad():
                target = features.log_ratio_masks(sources, self.mask_floor_db)
            terms["mask"] = pairwise_mse(out.masks, target)
            total = total + self.mask_weight * terms["mask"]
        if self.signal_weight:
            if out.streams is None:
                raise ValueError(
                    "loss.signal_weight needs a model with separated streams (separating_embedder)"
                )
            terms["signal"] = pairwise_neg_sisdr(out.streams, sources)
            total = total + self.signal_weight * terms["signal"]
        loss, perm = pit_reduce(total)
        idx = perm.unsqueeze(-1)
        logs = {k: v.detach().gather(2, idx).mean() for k, v in terms.items()}
        pred = self.classifier.logits(out.embeddings.detach()).argmax(-1)
        logs["pit_acc"] = (pred == labels.gather(1, perm)).float().mean()
        return loss.mean(), {**logs, "perm": perm}
