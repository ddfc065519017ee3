"""The combined mixture objective: every pairwise term, one permutation."""

from __future__ import annotations

import pytest
import torch

from mirnet.architectures import build_model
from mirnet.features import LogMagnitudeSpectrum
from mirnet.losses.classification import SpeakerClassifier
from mirnet.losses.mixture import MixtureLoss, pairwise_attention_bce, pairwise_mse, power_share
from mirnet.models import ModelOutput


def test_pairwise_mse_matches_the_direct_computation():
    z, s = torch.randn(3, 2, 5, 7), torch.randn(3, 2, 5, 7)
    expect = torch.stack(
        [torch.stack([((z[:, k] - s[:, j]) ** 2).mean(dim=(1, 2)) for j in range(2)], -1) for k in range(2)],
        1,
    )
    torch.testing.assert_close(pairwise_mse(z, s), expect, rtol=1e-4, atol=1e-5)


def test_power_share_sums_to_one_where_there_is_sound_and_zero_in_silence():
    power = torch.tensor([[[1.0, 3.0, 0.0], [1.0, 1.0, 0.0]]])
    torch.testing.assert_close(power_share(power), torch.tensor([[[0.5, 0.75, 0.0], [0.5, 0.25, 0.0]]]))


@pytest.mark.parametrize("n", [2, 3])
def test_every_term_agrees_on_the_permutation_of_swapped_outputs(n):
    """Masks that are exactly the sources' log ratios in a known order, attention that is
    exactly their power share in that order: the loss must find that order."""
    torch.manual_seed(0)
    feats = LogMagnitudeSpectrum()
    sources = torch.randn(4, n, 8000) * torch.linspace(0.2, 2.0, n)[:, None]
    perm = torch.stack([torch.randperm(n) for _ in range(4)])
    masks = feats.log_ratio_masks(sources, 30.0)
    share = power_share(feats.frame_power(sources))
    take = lambda x: x.gather(1, perm.view(4, n, *([1] * (x.dim() - 2))).expand_as(x))  # noqa: E731
    labels = torch.randint(0, 5, (4, n))
    clf = SpeakerClassifier(3, 5)
    out = ModelOutput(torch.randn(4, n, 3), take(share).clamp(0, 1), take(masks))
    loss_fn = MixtureLoss(clf, ce_weight=0.0, attention_weight=1.0, mask_weight=1.0)
    loss, logs = loss_fn(out, labels, sources, feats)
    assert torch.equal(logs["perm"], perm) and logs["mask"] < 1e-4
    assert torch.allclose(
        logs["attention"], pairwise_attention_bce(share, share).diagonal(dim1=1, dim2=2).mean()
    )


def test_mask_term_trains_a_real_model_and_needs_masks():
    args = dict(
        encoder={"channels": [16] * 5, "norm": "batch"},
        speaker_net={"name": "tdnn", "channels": 16, "pool_channels": 16, "embed_dim": 8},
    )
    model = build_model("mirnet", attention={"hidden": 8, "output": "residual"}, **args)
    loss_fn = MixtureLoss(SpeakerClassifier(8, 4), mask_weight=1.0)
    sources, labels = torch.randn(2, 2, 8000), torch.tensor([[0, 1], [2, 3]])
    loss, logs = loss_fn(model(sources.sum(1)), labels, sources, model.features)
    loss.backward()
    assert logs["mask"] > 0 and model.encoder.layers[0].weight.grad.abs().sum() > 0
    direct = build_model("mirnet", attention={"hidden": 8}, **args)
    with pytest.raises(ValueError, match="output: residual"):
        loss_fn(direct(sources.sum(1)), labels, sources, direct.features)
