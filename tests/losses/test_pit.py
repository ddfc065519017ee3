"""The permutation helper and the pairwise losses built on it."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from mirnet.distances import closest_pair_distance, pairwise_cosine_distance, pairwise_euclidean_distance
from mirnet.losses.classification import SpeakerClassifier
from mirnet.losses.pit import best_permutation, pit_reduce


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("batch", [1, 6])
def test_recovers_a_known_permutation(n, batch):
    g = torch.Generator().manual_seed(n * 10 + batch)
    refs = torch.randn(batch, n, 16, generator=g)
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(batch)])
    outputs = refs.gather(1, perms[..., None].expand(-1, -1, 16)) + 0.01 * torch.randn(
        batch, n, 16, generator=g
    )
    found = best_permutation(pairwise_cosine_distance(outputs, refs))
    assert torch.equal(found, perms)


def test_hungarian_and_exhaustive_agree():
    cost = torch.rand(50, 4, 4, generator=torch.Generator().manual_seed(0))
    found = best_permutation(cost)
    for b in range(50):
        totals = {p: sum(cost[b, k, p[k]].item() for k in range(4)) for p in itertools.permutations(range(4))}
        best = min(totals, key=totals.get)
        assert torch.allclose(cost[b, torch.arange(4), found[b]].sum(), torch.tensor(totals[best]))


def test_pit_loss_is_the_min_of_eq_4_and_5_and_differentiable():
    pw = torch.tensor([[[1.0, 5.0], [4.0, 2.0]], [[3.0, 0.5], [0.25, 9.0]]], requires_grad=True)
    loss, perm = pit_reduce(pw)
    assert torch.allclose(loss, torch.tensor([1.5, 0.375])) and perm.tolist() == [[0, 1], [1, 0]]
    loss.sum().backward()
    assert pw.grad[0].tolist() == [[0.5, 0.0], [0.0, 0.5]] and pw.grad[1].tolist() == [[0.0, 0.5], [0.5, 0.0]]


def test_closest_pair_is_min_over_all_pairs():
    a, b = torch.randn(3, 2, 8), torch.randn(3, 2, 8)
    d = pairwise_euclidean_distance(a, b)
    expect = torch.stack(
        [min(torch.dist(a[i, k], b[i, j]) for k in range(2) for j in range(2)) for i in range(3)]
    )
    torch.testing.assert_close(closest_pair_distance(d), expect)


@pytest.mark.parametrize("kind, margin", [("linear", 0.0), ("cosine", 0.0), ("cosine", 0.3)])
@pytest.mark.parametrize("n", [2, 3])
def test_pairwise_cross_entropy_matches_torch(kind, margin, n):
    torch.manual_seed(1)
    clf = SpeakerClassifier(12, 7, kind, scale=20.0, margin=margin)
    emb, labels = torch.randn(4, n, 12), torch.randint(0, 7, (4, n))
    pw = clf.pairwise_cross_entropy(emb, labels)
    for b, k, j in itertools.product(range(4), range(n), range(n)):
        logits = clf.logits(emb[b, k]).clone()
        if kind == "cosine":
            logits[labels[b, j]] -= 20.0 * margin
        torch.testing.assert_close(pw[b, k, j], F.cross_entropy(logits, labels[b, j]), rtol=1e-4, atol=1e-4)
