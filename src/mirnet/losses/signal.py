"""Signal-level comparisons between separated estimates and reference sources, as pairwise
matrices for the one permutation helper (``pit.py``): utterance-level PIT for separators."""

from __future__ import annotations

import torch
from torch import nn

from .pit import pit_reduce

# SI-SDR is capped at 80 dB (the error never counts as less than 1e-8 of the estimate's energy), so
# an exact estimate has a finite loss; float32 cancellation alone puts one near 60-70 dB
MAX_SISDR_DB = 80.0


def pairwise_neg_sisdr(estimates: torch.Tensor, references: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(B, N, samples) estimates, (B, M, samples) references -> (B, N, M) negative SI-SDR in dB.

    Scale-invariant SDR (Le Roux et al., 2019) of estimate n against reference m: both are
    made zero-mean, the reference is scaled to its projection on the estimate, and the rest of
    the estimate counts as error. Computed from inner products, so the (N, M) pairs cost one
    matrix product, not N*M copies; in float32 whatever the autocast dtype."""
    if estimates.shape[0] != references.shape[0] or estimates.shape[-1] != references.shape[-1]:
        raise ValueError(
            f"estimates {tuple(estimates.shape)} and references {tuple(references.shape)} "
            "must agree in batch and samples"
        )
    est = estimates.float() - estimates.float().mean(-1, keepdim=True)
    ref = references.float() - references.float().mean(-1, keepdim=True)
    dot = torch.einsum("bnt,bmt->bnm", est, ref)
    ref_energy = ref.square().sum(-1)[:, None, :]  # (B, 1, M)
    est_energy = est.square().sum(-1)[:, :, None]  # (B, N, 1)
    target = dot.square() / (ref_energy + eps)  # ||alpha s||^2
    noise = (est_energy - target).clamp_min(est_energy * 10 ** (-MAX_SISDR_DB / 10) + eps)
    return -10 * torch.log10((target + eps) / noise)


class SeparationLoss(nn.Module):
    """Utterance-level PIT (Kolbaek et al., 2017) over ``pairwise_neg_sisdr``: the loss is the
    negative SI-SDR under the best assignment of outputs to sources, averaged over outputs.
    ``ordered``: output k is source k's by construction (a separator conditioned on source k's
    enrolled embedding), so the assignment is fixed; under PIT such a separator could as well
    learn to return the speaker it was *not* given. Logs that SI-SDR and its improvement over
    the unprocessed mixture (SI-SDRi)."""

    def __init__(self, ordered: bool = False):
        super().__init__()
        self.ordered = ordered

    def forward(
        self, estimates: torch.Tensor, sources: torch.Tensor, mixture: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(B, N, samples) estimates and sources, (B, samples) mixture -> (loss, logs)."""
        pairwise = pairwise_neg_sisdr(estimates, sources)
        if self.ordered:
            loss = pairwise.diagonal(dim1=1, dim2=2).mean(-1)
            perm = torch.arange(pairwise.shape[1], device=pairwise.device).expand(pairwise.shape[0], -1)
        else:
            loss, perm = pit_reduce(pairwise)
        with torch.no_grad():
            unprocessed = -pairwise_neg_sisdr(mixture.unsqueeze(1), sources).mean(dim=(1, 2))
        si_sdr = -loss.detach()
        return loss.mean(), {"si_sdr": si_sdr.mean(), "si_sdri": (si_sdr - unprocessed).mean(), "perm": perm}
