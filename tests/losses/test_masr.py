"""MASR's metadata similarity and hard-mining loss on hand-built batches, and the term in training
on real synthesized mixtures."""

from __future__ import annotations

import pytest
import torch

from mirnet.data.mixing import UNKNOWN
from mirnet.errors import ConfigError
from mirnet.losses.masr import MasrLoss, masr_loss, metadata_similarity
from mirnet.progress import silent
from mirnet.train.trainer import Trainer

# four items: speakers a, a, b, c; genders M, M, M, F; languages en, en, de, en
CODES = {
    "speaker": torch.tensor([0, 0, 1, 2]),
    "gender": torch.tensor([0, 0, 0, 1]),
    "language": torch.tensor([0, 0, 1, 0]),
}


def test_similarity_matrices_of_a_hand_built_batch():
    low, high = metadata_similarity(CODES, {"speaker": 2.0, "gender": 1.0, "language": 1.0})
    expect = torch.tensor(
        [
            [1.0, 1.0, 0.25, 0.25],
            [1.0, 1.0, 0.25, 0.25],
            [0.25, 0.25, 1.0, 0.0],
            [0.25, 0.25, 0.0, 1.0],
        ]
    )
    assert torch.equal(low, expect) and torch.equal(high, expect)
    either, _ = metadata_similarity(CODES, {"speaker": 1.0, "language": 1.0}, combine="or")
    assert either.tolist() == [[1, 1, 0, 1], [1, 1, 0, 1], [0, 0, 1, 0], [1, 1, 0, 1]]


def test_a_negative_source_lowers_the_pairs_that_share_it():
    codes = {**CODES, "engine": torch.tensor([0, 0, 0, 1])}
    low, _ = metadata_similarity(codes, {"speaker": 1.0, "gender": 1.0, "engine": -1.0})
    # a-b share gender and engine: (1 - 1) / 2; a-c share nothing: 0; a-a: (1 + 1 - 1) / 2
    assert low[0, 2] == 0.0 and low[0, 3] == 0.0 and low[0, 1] == 0.5
    vetoed, _ = metadata_similarity(codes, {"gender": 1.0, "engine": -1.0}, combine="or")
    assert vetoed[0, 2] == 0.0 and vetoed[2, 0] == 0.0


def test_missing_metadata_counts_as_unknown_not_as_different():
    codes = {"speaker": torch.tensor([0, 1, 2]), "gender": torch.tensor([0, UNKNOWN, 1])}
    low, high = metadata_similarity(codes, {"speaker": 1.0, "gender": 1.0})
    # item 1's gender could be either: its pairs lie in [0, 0.5], so they are never negatives
    assert low[0, 1] == 0.0 and high[0, 1] == 0.5 and high[1, 2] == 0.5
    assert low[0, 2] == high[0, 2] == 0.0  # both known and different: a negative
    sim = torch.tensor([[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]])
    positive_only_self = masr_loss(sim, low, high, threshold=0.5, margin=0.2)
    assert positive_only_self == 0.0  # no anchor has a positive besides itself


def test_hardest_positive_and_negative_of_a_hand_built_example():
    codes = {"speaker": torch.tensor([0, 0, 0, 1, 2])}  # 0-2 one speaker; 3 and 4 alone
    low, high = metadata_similarity(codes, {"speaker": 1.0})
    sim = torch.tensor(
        [
            [1.0, 0.9, 0.4, 0.7, 0.1],
            [0.9, 1.0, 0.8, 0.2, 0.3],
            [0.4, 0.8, 1.0, 0.5, 0.6],
            [0.7, 0.2, 0.5, 1.0, 0.0],
            [0.1, 0.3, 0.6, 0.0, 1.0],
        ],
        requires_grad=True,
    )
    loss = masr_loss(sim, low, high, threshold=0.5, margin=0.2)
    # anchor 0: hardest positive 2 (0.4), hardest negative 3 (0.7) -> 0.5; anchor 1: 2 and 4 -> 0;
    # anchor 2: 0 and 4 -> 0.4; anchors 3 and 4 have no positive and are not counted
    assert loss.item() == pytest.approx((0.5 + 0.0 + 0.4) / 3)
    loss.backward()  # gradients reach only the mined pairs of the anchors whose margin is violated
    assert {tuple(ij) for ij in sim.grad.nonzero().tolist()} == {(0, 2), (0, 3), (2, 0), (2, 4)}


def test_gradients_skip_an_item_no_triplet_uses():
    emb = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.1]], requires_grad=True)
    # anchor 0 and 1 are one speaker; 2 is the closer negative; 3 is never the hardest anything
    codes = {"speaker": torch.tensor([0, 0, 1, 2])}
    MasrLoss({"speaker": 1.0}, margin=1.0)(emb, codes).backward()
    assert emb.grad[3].abs().sum() == 0 and all(emb.grad[i].abs().sum() > 0 for i in range(3))


@pytest.mark.parametrize("mining", ["hard", "soft"])
def test_a_batch_sharing_every_label_gives_a_finite_loss(mining):
    emb = torch.randn(4, 8, requires_grad=True)
    same = {"speaker": torch.zeros(4, dtype=torch.long), "gender": torch.zeros(4, dtype=torch.long)}
    loss = MasrLoss({"speaker": 1.0, "gender": 1.0}, mining=mining)(emb, same)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(emb.grad).all()


def test_soft_mining_pulls_similar_pairs_and_pushes_the_rest():
    codes = {"speaker": torch.tensor([0, 0, 1])}
    loss_fn = MasrLoss({"speaker": 1.0}, mining="soft", margin=0.0)
    apart = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    together = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert loss_fn(apart, codes) == 0.0 and loss_fn(together, codes) > 0.5


def test_training_with_masr_logs_the_term_and_checks_its_sources(tiny_config, tmp_path, one_thread):
    cfg = tiny_config(
        "train.epochs=1", "loss.masr.weight=1", "loss.masr.sources={speaker: 1, gender: 0.5, language: 0.5}"
    )
    trainer = Trainer(cfg, tmp_path / "exp", progress=silent)
    batch = trainer.train_data[0]
    assert {"meta.gender", "meta.language", "meta.engine"} <= set(batch)
    summary = trainer.run()
    assert summary["val_masr"] >= 0.0 and "masr" in (tmp_path / "exp" / "steps.csv").read_text()
    bad = tiny_config("loss.masr.weight=1", "loss.masr.sources={speaker: 1, accent: 1}")
    with pytest.raises(ConfigError, match="loss.masr.sources: no speaker metadata 'accent' in data.train"):
        Trainer(bad, tmp_path / "bad", progress=silent)
