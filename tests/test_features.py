from __future__ import annotations

import math

import pytest
import torch

from mirnet.features import LogMagnitudeSpectrum


@pytest.mark.parametrize("batch, seconds", [(1, 1.0), (3, 3.0)])
def test_paper_settings_give_257_bins_every_10_ms(batch, seconds):
    feats = LogMagnitudeSpectrum()
    assert (feats.win_length, feats.hop_length, feats.n_bins) == (512, 160, 257)
    out = feats(torch.randn(batch, int(seconds * 16000)))
    assert out.shape == (batch, 257, int(seconds * 100) + 1)


def test_mean_norm_removes_level_and_power_is_on_the_same_grid():
    """Seeded: a bin whose magnitude falls near eps on an unlucky draw shifts by more than atol."""
    feats = LogMagnitudeSpectrum()
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(feats(wav), feats(wav * 10), atol=1e-3)
    assert feats.frame_power(torch.randn(2, 3, 16000)).shape == (2, 3, 101)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match="batch, samples"):
        LogMagnitudeSpectrum()(torch.randn(16000))


def test_log_ratio_masks_are_local_and_clipped():
    """A sole source's mask is 0 dB, a silent one's the floor; phase cancellation (a source louder
    than the mixture) is clipped at 0 dB; the masks do not depend on the rest of the utterance."""
    feats = LogMagnitudeSpectrum()
    speech = torch.randn(1, 1, 16000, generator=torch.Generator().manual_seed(0))
    masks = feats.log_ratio_masks(torch.cat([speech, torch.zeros_like(speech)], dim=1), floor_db=40.0)
    torch.testing.assert_close(masks[:, 0], torch.zeros_like(masks[:, 0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(masks[:, 1], torch.full_like(masks[:, 1], -40 * math.log(10) / 20))
    cancelling = feats.log_ratio_masks(torch.cat([speech, -0.9 * speech], dim=1), floor_db=40.0)
    assert cancelling.max() <= 0.0 and cancelling[:, 0].min() == 0.0
    pair = torch.randn(1, 2, 16000, generator=torch.Generator().manual_seed(1)) * torch.tensor(
        [[[1.0], [0.5]]]
    )
    louder_tail = pair.clone()
    louder_tail[..., 8000:] *= 10
    frames = masks.shape[-1] // 2 - 3  # frames whose window lies wholly in the unchanged half
    torch.testing.assert_close(
        feats.log_ratio_masks(louder_tail, 40.0)[..., :frames],
        feats.log_ratio_masks(pair, 40.0)[..., :frames],
        atol=1e-4,
        rtol=0,
    )
