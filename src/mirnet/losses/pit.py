"""The one permutation helper: pairwise matrices in, best assignment out.

Every comparison between N model outputs and N references is first written as a pairwise
matrix (B, N_out, N_ref) by a ``pairwise_*`` function (``mirnet.distances`` for embeddings,
``losses.signal`` for waveforms); permutation-invariant training, the figures and separation
scoring all reduce such a matrix here, so they agree on what "matching outputs to speakers"
means.

The convention is (batch, output, reference): entry [b, i, j] compares model output i with
reference j. Asteroid's pairwise losses return the same layout (their ``get_pw_losses`` fills
``[:, est_idx, target_idx]``; only their PIT search transposes it inside), so one ported from there
needs no transpose. A (batch, reference, output) matrix would not fail loudly: for N > 2 PIT would
return the inverse permutation.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

EXHAUSTIVE_MAX = 3  # N! grows fast: above this the Hungarian algorithm finds the same optimum


@cache
def _permutations(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(n))), dtype=torch.long)


def best_permutation(pairwise: torch.Tensor) -> torch.Tensor:
    """(B, N, N) cost -> (B, N) long: ``perm[b, k]`` is the reference assigned to output k,
    minimising the summed cost. Exhaustive for N <= 3, Hungarian above."""
    if pairwise.dim() != 3 or pairwise.shape[1] != pairwise.shape[2]:
        raise ValueError(f"expected a square pairwise matrix (B, N, N), got {tuple(pairwise.shape)}")
    n = pairwise.shape[1]
    cost = pairwise.detach()
    if n <= EXHAUSTIVE_MAX:
        perms = _permutations(n).to(cost.device)  # (P, N)
        totals = cost[:, torch.arange(n, device=cost.device), perms].sum(-1)  # (B, P)
        return perms[totals.argmin(dim=1)]
    rows = [linear_sum_assignment(c)[1] for c in cost.float().cpu().numpy()]
    return torch.as_tensor(np.stack(rows), dtype=torch.long, device=cost.device)


def pit_reduce(pairwise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Permutation-invariant loss (B,) = mean over outputs of the cost under the best
    permutation (paper eq. 3-5, averaged rather than summed so the scale is N-free), and that
    permutation. Gradients flow through the chosen entries only."""
    perm = best_permutation(pairwise)
    chosen = pairwise.gather(2, perm.unsqueeze(-1)).squeeze(-1)  # (B, N)
    return chosen.mean(dim=1), perm
