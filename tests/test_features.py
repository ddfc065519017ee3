from __future__ import annotations

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
    feats = LogMagnitudeSpectrum()
    wav = torch.randn(2, 16000)
    assert torch.allclose(feats(wav), feats(wav * 10), atol=1e-3)
    assert feats.frame_power(torch.randn(2, 3, 16000)).shape == (2, 3, 101)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match="batch, samples"):
        LogMagnitudeSpectrum()(torch.randn(16000))
