"""SI-SDR as a pairwise matrix, and utterance-level PIT over it."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

from mirnet.losses.signal import SeparationLoss, pairwise_neg_sisdr


def noisy_permuted(batch: int, n: int, snr_db: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    sources = torch.randn(batch, n, 8000, generator=g)
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(batch)])
    noise = torch.randn(batch, n, 8000, generator=g) * 10 ** (-snr_db / 20)
    estimates = 0.5 * sources.gather(1, perms[..., None].expand(-1, -1, 8000)) + 0.5 * noise
    return estimates, sources, perms


def test_every_pair_agrees_with_torchmetrics():
    estimates, sources, _ = noisy_permuted(4, 3, 5.0, seed=0)
    ours = -pairwise_neg_sisdr(estimates, sources)
    for n in range(3):
        for m in range(3):
            theirs = scale_invariant_signal_distortion_ratio(estimates[:, n], sources[:, m], zero_mean=True)
            matched = theirs > -20  # far below that, the two differ only in where eps bites
            assert torch.allclose(ours[:, n, m][matched], theirs[matched], atol=2e-3), (n, m)
    assert torch.allclose(ours.amax(dim=2), torch.tensor(5.0), atol=0.5)  # each estimate's own source, 5 dB


@pytest.mark.parametrize("n", [2, 3])
def test_pit_recovers_a_known_permutation_and_scores_the_right_pairs(n):
    estimates, sources, perms = noisy_permuted(6, n, 10.0, seed=n)
    mixture = sources.sum(1)
    loss, logs = SeparationLoss()(estimates, sources, mixture)
    assert torch.equal(logs["perm"], perms)
    assert torch.allclose(
        logs["si_sdr"], torch.tensor(10.0), atol=0.3
    )  # the noise is 10 dB below each source
    assert torch.isclose(loss, -logs["si_sdr"])
    unprocessed = scale_invariant_signal_distortion_ratio(
        mixture[:, None].expand_as(sources), sources, zero_mean=True
    ).mean()
    assert torch.isclose(logs["si_sdri"], logs["si_sdr"] - unprocessed, atol=1e-3)


def test_scale_does_not_matter_and_an_exact_estimate_is_finite():
    sources = torch.randn(2, 2, 4000, generator=torch.Generator().manual_seed(1))
    exact = -pairwise_neg_sisdr(sources, sources).diagonal(dim1=1, dim2=2)
    assert torch.isfinite(exact).all() and (exact > 55).all()
    scaled = pairwise_neg_sisdr(3.0 * sources + 0.1 * sources.flip(1), sources)
    assert torch.allclose(scaled, pairwise_neg_sisdr(sources + sources.flip(1) / 30, sources), atol=1e-2)


def test_gradient_flows_to_the_estimates_in_bf16():
    estimates, sources, _ = noisy_permuted(2, 2, 0.0, seed=3)
    estimates = estimates.bfloat16().requires_grad_()
    loss, _ = SeparationLoss()(estimates, sources, sources.sum(1))
    loss.backward()
    assert (
        loss.dtype == torch.float32
        and torch.isfinite(estimates.grad.float()).all()
        and estimates.grad.abs().sum() > 0
    )
