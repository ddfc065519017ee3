"""The band-split separator (its shapes, gradients and mask bounds: test_separator_contract.py):
bands tile the spectrum, conditioning keeps the contract of the mask separator, and a one-output model started from a
uPIT one is that model's first output for a zero embedding."""

from __future__ import annotations

import pytest
import torch

from mirnet.architectures import build_model
from mirnet.errors import ConfigError
from mirnet.separation.band_separator import band_edges

TINY = dict(dim=8, hidden=8, blocks=1, head_dim=8, band_widths_hz=[250.0, 1000.0, 2000.0])


def test_bands_tile_the_spectrum_narrow_below_and_wide_above():
    edges = band_edges(513, 15.625, (1000.0, 4000.0, 8000.0), (100.0, 250.0, 500.0))
    widths = [b - a for a, b in zip(edges, edges[1:])]
    assert edges[0] == 0 and edges[-1] == 513 and all(w > 0 for w in widths)
    assert len(edges) - 1 == 10 + 12 + 8 and max(widths[:10]) <= 7 and min(widths[-8:]) >= 32
    with pytest.raises(ConfigError, match="same, non-zero length"):
        band_edges(513, 15.625, (1000.0,), (100.0, 200.0))


def test_a_conditioned_band_separator_starts_as_the_upit_ones_first_output():
    torch.manual_seed(0)
    upit = build_model("band_separator", n_outputs=2, **TINY).eval()
    vf = build_model("band_separator", n_outputs=1, embed_dim=6, **TINY).eval()
    assert vf.start_from(upit.state_dict()) == ["embed_proj.weight"]
    wav = torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(vf(wav, torch.zeros(2, 6)), upit(wav)[:, :1], rtol=1e-4, atol=1e-5)
        assert not torch.allclose(vf(wav, torch.randn(2, 6)), vf(wav, torch.randn(2, 6)))
    with pytest.raises(ValueError, match=r"conditioned: it needs embeddings of shape \(2, 6\), got None"):
        vf(wav)
