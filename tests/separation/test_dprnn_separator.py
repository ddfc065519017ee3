"""The dual-path separator (its shapes, gradients and mask bounds: test_separator_contract.py):
every frame hears the whole clip (the recurrence across chunks), and a conditioned one started
from a uPIT one is that model's first output for a zero embedding."""

from __future__ import annotations

import pytest
import torch

from mirnet.architectures import build_model
from mirnet.errors import ConfigError

TINY = dict(dim=8, hidden=8, blocks=1, chunk=6)


def test_every_frame_hears_the_whole_clip():
    """Unlike the convolutional separator's receptive field: the last frames changed, every
    frame's masks change, through the recurrence across chunks and then within the first chunk
    (two blocks). Unchanged paths compute bit for bit the same, so any difference is a path."""
    torch.manual_seed(0)
    model = build_model("dprnn_separator", **{**TINY, "blocks": 2}).eval()
    spec = model.features(torch.randn(1, 16000))
    changed = spec.clone()
    changed[..., -5:] = changed[..., -5:].flip(-2)
    with torch.no_grad():
        a, b = model.masks(spec), model.masks(changed)
    assert ((a - b).abs().amax(dim=(0, 1, 2)) > 0).all()


def test_a_conditioned_dprnn_separator_starts_as_the_upit_ones_first_output():
    torch.manual_seed(0)
    upit = build_model("dprnn_separator", n_outputs=2, **TINY).eval()
    vf = build_model("dprnn_separator", n_outputs=1, embed_dim=6, **TINY).eval()
    assert vf.start_from(upit.state_dict()) == ["embed_proj.weight"]  # keeps its own start
    wav = torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(vf(wav, torch.zeros(2, 6)), upit(wav)[:, :1], rtol=1e-4, atol=1e-5)
        assert not torch.allclose(vf(wav, torch.randn(2, 6)), upit(wav)[:, :1], atol=1e-3)
    with pytest.raises(ValueError, match=r"conditioned: it needs embeddings of shape \(2, 6\), got None"):
        vf(wav)


@pytest.mark.parametrize("chunk", [5, 0])
def test_a_chunk_that_cannot_overlap_by_half_is_refused_by_name(chunk):
    with pytest.raises(ConfigError, match="chunk: expected an even number of frames"):
        build_model("dprnn_separator", chunk=chunk)
