"""What every separator architecture owes the rest of mirnet, checked on each by name: N outputs of
the input's length whatever it is against frames and chunks, gradients reaching every parameter,
and masks within their bound (magnitude in [0, 1], complex parts within ``mask_bound``)."""

from __future__ import annotations

import pytest
import torch

from mirnet.architectures import build_model, names

TINY = {
    "mask_separator": dict(lstm_hidden=16, lstm_layers=1, fc_dim=16),
    "band_separator": dict(dim=8, hidden=8, blocks=1, head_dim=8, band_widths_hz=[250.0, 1000.0, 2000.0]),
    "tcn_separator": dict(dim=8, hidden=16, blocks=2, repeats=1),
    "dprnn_separator": dict(dim=8, hidden=8, blocks=1, chunk=6),
}
MASKED = [  # (architecture, mask): the band-split one has complex masks only
    (name, mask)
    for name in TINY
    for mask in ("magnitude", "complex")
    if (name, mask) != ("band_separator", "magnitude")
]


def test_every_separator_is_checked():
    assert set(TINY) == set(names("separator"))


def _model(name: str, mask: str, **kw):
    args = {**TINY[name], **kw}
    return build_model(name, **(args if name == "band_separator" else {**args, "mask": mask}))


@pytest.mark.parametrize("name, mask", MASKED)
@pytest.mark.parametrize("samples", [1600, 8000, 8160])  # shorter than a chunk; whole chunks; a ragged end
def test_n_outputs_of_the_input_length_with_gradients_everywhere(name, mask, samples):
    model = _model(name, mask, n_outputs=3)
    wav = torch.randn(2, samples, generator=torch.Generator().manual_seed(1))
    out = model(wav)
    assert out.shape == (2, 3, samples) and torch.isfinite(out).all()
    out.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name, mask", MASKED)
def test_masks_stay_within_their_bound(name, mask):
    model = _model(name, mask, mask_bound=1.5)
    spec = model.features(torch.randn(1, 8000, generator=torch.Generator().manual_seed(2)) * 100)
    masks = model.masks(spec)
    assert masks.shape == (1, 2, 257, spec.shape[-1]) and masks.is_complex() == (mask == "complex")
    if mask == "complex":
        assert masks.real.abs().max() <= 1.5 and masks.imag.abs().max() <= 1.5
    else:
        assert masks.min() >= 0 and masks.max() <= 1


@pytest.mark.parametrize(
    "name, key, value, message",
    [
        ("mask_separator", "lstm_hidden", 0, "expected a whole number >= 1, got 0"),
        ("mask_separator", "n_outputs", 0, "expected a whole number >= 1, got 0"),
        ("tcn_separator", "hidden", -3, "expected a whole number >= 1, got -3"),
        ("tcn_separator", "embed_dim", -1, "expected a whole number >= 0, got -1"),
        ("dprnn_separator", "dim", 0, "expected a whole number >= 1, got 0"),
        ("band_separator", "mask_bound", 0.0, "expected a number > 0, got 0.0"),
    ],
)
def test_a_separators_bad_size_is_refused_by_its_key_before_torch_sees_it(name, key, value, message):
    from mirnet.architectures import build_model
    from mirnet.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        build_model(name, **{key: value})
    assert str(caught.value) == f"model.args.{key}: {message}"
