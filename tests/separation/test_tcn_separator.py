"""The convolutional separator (its shapes, gradients and mask bounds: test_separator_contract.py):
a frame hears only its receptive field (per-frame norms, so chunks of a long file are processed as
the same frames inside it), and a conditioned one started from a uPIT one is that model's first
output for a zero embedding."""

from __future__ import annotations

import pytest
import torch

from mirnet.architectures import build_model
from mirnet.errors import ConfigError

TINY = dict(dim=8, hidden=16, blocks=2, repeats=1)  # kernel 3, dilations 1, 2: 7 frames of context


def test_a_frame_hears_its_receptive_field_and_nothing_beyond():
    torch.manual_seed(0)
    model = build_model("tcn_separator", **TINY).eval()
    spec = model.features(torch.randn(1, 16000))
    changed = spec.clone()
    changed[..., 40:] = changed[..., 40:].flip(-2)  # other spectra from frame 40 on
    with torch.no_grad():
        a, b = model.masks(spec), model.masks(changed)
    differs = (a - b).abs().amax(dim=(0, 1, 2)) > 1e-6
    assert not differs[: 40 - 3].any() and differs[40 - 3 : 40].all()  # 3 frames back: (7 - 1) / 2


def test_a_conditioned_tcn_separator_starts_as_the_upit_ones_first_output():
    torch.manual_seed(0)
    upit = build_model("tcn_separator", n_outputs=2, **TINY).eval()
    vf = build_model("tcn_separator", n_outputs=1, embed_dim=6, **TINY).eval()
    assert vf.start_from(upit.state_dict()) == []
    torch.nn.init.zeros_(vf.inp.weight[:, -6:])  # the embedding's weights at zero: no effect yet
    wav = torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(vf(wav, torch.randn(2, 6)), upit(wav)[:, :1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"conditioned: it needs embeddings of shape \(2, 6\), got None"):
        vf(wav)


def test_an_even_kernel_is_refused_by_name():
    with pytest.raises(ConfigError, match="kernel: expected an odd number"):
        build_model("tcn_separator", kernel=4)
