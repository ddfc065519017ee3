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
    """Seeded: a bin whose magnitude falls near eps on an unlucky draw shifts by more than atol."""
    feats = LogMagnitudeSpectrum()
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(feats(wav), feats(wav * 10), atol=1e-3)
    assert feats.frame_power(torch.randn(2, 3, 16000)).shape == (2, 3, 101)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match="batch, samples"):
        LogMagnitudeSpectrum()(torch.randn(16000))


def test_source_spectra_are_floored_below_the_mixture():
    """A silent source's target sits floor_db under the mixture; a sole source is its own spectrum."""
    feats = LogMagnitudeSpectrum(mean_norm=False)
    speech = torch.randn(1, 1, 16000, generator=torch.Generator().manual_seed(0))
    sources = torch.cat([speech, torch.zeros_like(speech)], dim=1)
    target = feats.source_spectra(sources, floor_db=40.0)
    mixture = feats(speech[:, 0])
    torch.testing.assert_close(target[:, 0], mixture)
    torch.testing.assert_close(target[:, 1], torch.log(feats.magnitude(speech[:, 0]) / 100 + feats.eps))
