"""The inference copy (BatchNorm folded, channels-last) must give the trained model's embeddings
(to 1e-5) on real mixtures, leave the trained model untouched, and be what ``Embedder`` runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirnet import api
from mirnet.api import Embedder, inference_precision
from mirnet.architectures import build_model
from mirnet.checkpoint import load_model
from mirnet.corpus import read_librispeech
from mirnet.data.mixing import MixingConfig, draw_mixture, mix, read_sources
from mirnet.errors import InputError
from mirnet.models.inference import fold_batchnorm, for_inference

from ..conftest import REPO


@pytest.fixture(scope="module")
def mixtures(corpus):
    manifest = read_librispeech(corpus / "unseen")
    index, rng = manifest.index, np.random.default_rng(0)
    return torch.from_numpy(
        np.stack([mix(read_sources(draw_mixture(manifest, rng, MixingConfig()), index))[0] for _ in range(2)])
    )


def _norms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def _paper_shaped():
    """ResNet-18 (Conv2d + BatchNorm2d, skip branches) at test widths, with BatchNorm statistics
    far from the identity a fresh model has, so folding has something to fold."""
    model = build_model(
        "mirnet",
        encoder={"channels": [32, 32, 32, 32, 64], "norm": "batch"},
        speaker_net={"name": "resnet18", "widths": [8, 8, 16, 16], "embed_dim": 32},
    )
    gen = torch.Generator().manual_seed(0)
    for m in _norms(model):
        for t, lo, hi in (
            (m.running_mean, -1, 1),
            (m.running_var, 0.3, 3),
            (m.weight.data, 0.5, 1.5),
            (m.bias.data, -0.5, 0.5),
        ):
            t.copy_(torch.empty(t.shape).uniform_(lo, hi, generator=gen))
    return model.eval()


@pytest.mark.parametrize("rewrite", [fold_batchnorm, for_inference])
@pytest.mark.parametrize(
    "make",
    [lambda: load_model(REPO / "models" / "mirnet")[0], _paper_shaped],
    ids=["mirnet-compact", "resnet18"],
)
def test_inference_copy_gives_the_same_embeddings(make, rewrite, mixtures):
    torch.set_num_threads(1)
    model = make()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = rewrite(model)
    assert _norms(model) and not _norms(folded)
    with torch.inference_mode():
        want, got = model(mixtures).embeddings, folded(mixtures).embeddings
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_embedder_runs_the_inference_copy(mixtures):
    model = _paper_shaped()
    embedder = Embedder(model, {}, precision="fp32")
    assert not _norms(embedder._fast) and embedder.model is model
    assert embedder._fast.speaker_net.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        torch.testing.assert_close(
            embedder.embed_batch(mixtures), model(mixtures).embeddings, rtol=0, atol=1e-5
        )


@pytest.mark.parametrize("amx, expect", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_is_bf16_only_where_the_cpu_has_amx(amx, expect, monkeypatch):
    monkeypatch.setattr(api.torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert inference_precision("auto") == expect and inference_precision("fp32") == "fp32"
    with pytest.raises(InputError, match="precision must be one of auto, fp32, bf16, got 'fp16'"):
        inference_precision("fp16")


def test_bf16_embeddings_stay_close_to_fp32_on_real_mixtures(mixtures):
    model = load_model(REPO / "models" / "mirnet")[0]
    fp32, bf16 = (Embedder(model, {}, precision=p).embed_batch(mixtures) for p in ("fp32", "bf16"))
    assert bf16.dtype == torch.float32 and not torch.equal(fp32, bf16)  # autocast did run
    assert torch.nn.functional.cosine_similarity(fp32, bf16, dim=-1).min() > 0.999
