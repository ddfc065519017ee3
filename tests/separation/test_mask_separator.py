"""The mask separator's signal path and its conditioning contract."""

from __future__ import annotations

import pytest
import torch

from mirnet.errors import ConfigError
from mirnet.features import Spectrogram
from mirnet.separation import MaskSeparator
from mirnet.separation.spectral import mixture_consistency

TINY = dict(lstm_hidden=16, lstm_layers=1, fc_dim=16)


def test_the_spectrogram_inverts_exactly():
    wav = torch.randn(3, 12345, generator=torch.Generator().manual_seed(0))
    stft = Spectrogram()
    assert torch.allclose(stft.inverse(stft(wav), wav.shape[-1]), wav, atol=1e-5)


def test_a_conditioned_separator_needs_one_embedding_per_mixture():
    model = MaskSeparator(n_outputs=1, embed_dim=8, conv_channels=4, **TINY)
    wav = torch.randn(2, 4000)
    assert model(wav, torch.randn(2, 8)).shape == (2, 1, 4000)
    with pytest.raises(ValueError, match=r"conditioned: it needs embeddings of shape \(2, 8\), got None"):
        model(wav)
    with pytest.raises(ValueError, match=r"got \(2, 5\)"):
        model(wav, torch.randn(2, 5))
    # different embeddings, different outputs: the embedding reaches the masks
    assert not torch.allclose(model.eval()(wav, torch.randn(2, 8)), model(wav, torch.randn(2, 8)))


@pytest.mark.parametrize("weighting", ["uniform", "power"])
def test_mixture_consistency_gives_back_sources_whatever_their_scale(weighting, corpus):
    from mirnet.audio import load_audio

    files = sorted((corpus / "seen").rglob("*.flac"))
    sources = torch.stack([torch.from_numpy(load_audio(f, frames=16000)) for f in (files[0], files[-1])])[
        None
    ]
    mixture = sources.sum(1)
    scaled = sources * torch.tensor([0.3, -2.0])[None, :, None]  # what a scale-invariant loss allows
    torch.testing.assert_close(mixture_consistency(scaled, mixture, weighting), sources, atol=1e-4, rtol=0)
    leaky = scaled + 0.1 * sources.flip(1)  # imperfect estimates: they are made to sum to the mixture
    torch.testing.assert_close(
        mixture_consistency(leaky, mixture, weighting).sum(1), mixture, atol=1e-4, rtol=0
    )
    model = MaskSeparator(consistency=weighting, **TINY)
    torch.testing.assert_close(model(mixture).sum(1), mixture, atol=1e-4, rtol=0)


def test_consistency_is_refused_for_a_conditioned_separator_and_unknown_weightings():
    with pytest.raises(ConfigError, match="consistency: a conditioned separator's one output"):
        MaskSeparator(embed_dim=8, consistency="power", **TINY)
    with pytest.raises(ConfigError, match="consistency: expected one of none, uniform, power, got 'equal'"):
        MaskSeparator(consistency="equal", **TINY)
