"""Separation metrics from the field's libraries, on real synthesized mixtures."""

from __future__ import annotations

import fast_bss_eval
import numpy as np
import pytest
import torch

from mirnet.corpus import open_corpus
from mirnet.data.mixing import MixingConfig, MixtureDataset
from mirnet.features import Spectrogram
from mirnet.separation.metrics import score_separation, summarize


@pytest.fixture(scope="module")
def mixtures(corpus):
    manifest = open_corpus(corpus / "seen")
    cfg = MixingConfig(2, 2.0, (0.0, 0.0), (1.0, 1.0))
    data = MixtureDataset(manifest, cfg, 4, seed=3)
    items = [data[i] for i in range(4)]
    return torch.stack([x["mixture"] for x in items]), torch.stack([x["sources"] for x in items])


def test_an_oracle_ratio_mask_improves_every_metric(mixtures):
    mixture, sources = mixtures
    stft = Spectrogram()
    spec = stft(mixture)
    src = stft(sources.flatten(0, 1)).view(*sources.shape[:2], *spec.shape[1:])
    irm = src.abs() / src.abs().sum(1, keepdim=True).clamp_min(1e-8)
    estimates = stft.inverse(irm * spec.unsqueeze(1), mixture.shape[-1])
    for est, ref, mix in zip(estimates.numpy(), sources.numpy(), mixture.numpy()):
        scores = score_separation(est, ref, mix)
        # 0-dB mixtures of two voices: an oracle magnitude mask with the mixture's phase gains
        # about 10 dB (benchmarks/oracle_masks.py), and clearly better speech by PESQ and STOI
        assert (scores["sdri"] > 7).all() and (scores["si_sdri"] > 7).all(), scores
        assert (scores["pesqi"] > 0.5).all() and (scores["stoii"] > 0.0).all(), scores


def test_the_unprocessed_mixture_improves_nothing(mixtures):
    mixture, sources = mixtures
    scores = score_separation(np.stack([mixture[0].numpy()] * 2), sources[0].numpy(), mixture[0].numpy())
    assert all(np.allclose(scores[name + "i"], 0.0, atol=1e-6) for name in ("sdr", "si_sdr", "pesq", "stoi"))


def test_two_libraries_agree_on_si_sdr(mixtures):
    """torchmetrics (what score_separation reports) against fast_bss_eval's own SI-SDR."""
    mixture, sources = mixtures
    ref = sources[0].numpy().astype(np.float64)
    est = ref + 0.3 * ref[::-1] + 0.05 * np.random.default_rng(0).standard_normal(ref.shape)
    ours = score_separation(est, ref, mixture[0].numpy(), metrics=("si_sdr",))["si_sdr"]
    theirs = fast_bss_eval.si_sdr(ref - ref.mean(-1, keepdims=True), est - est.mean(-1, keepdims=True))
    assert np.allclose(ours, theirs, atol=1e-3), (ours, theirs)


def test_summary_intervals_hold_the_estimate():
    values = np.random.default_rng(1).normal(10.0, 2.0, size=200)
    s = summarize(values)
    assert s["n"] == 200 and s["mean_ci"][0] < s["mean"] < s["mean_ci"][1]
    assert s["median_ci"][0] <= s["median"] <= s["median_ci"][1] and s["mean_ci"][1] - s["mean_ci"][0] < 1.0


def test_a_reference_pesq_cannot_score_is_counted_apart_not_fatal():
    from mirnet.separation.metrics import score_separation, summarize

    rng = np.random.default_rng(0)
    silent, noise = np.zeros((1, 16000), np.float32), rng.standard_normal((1, 16000)).astype(np.float32)
    scores = score_separation(noise, silent, noise[0], ("pesq",))
    assert np.isnan(scores["pesq"]).all()
    summary = summarize(np.array([1.5, np.nan, 2.5]))
    assert summary["n"] == 2 and summary["unscored"] == 1 and summary["mean"] == 2.0
