"""Separation quality, each from the library the field uses: SDR (BSS-eval, ``fast_bss_eval``),
SI-SDR (``torchmetrics``), wide-band PESQ (``pesq``) and STOI (``pystoi``), every one also as
an improvement over the unprocessed mixture; and bootstrap intervals (``scipy.stats``)."""

from __future__ import annotations

import warnings

import fast_bss_eval
import numpy as np
import torch
from pesq import PesqError, pesq
from pystoi import stoi
from scipy.stats import bootstrap
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

from ..audio import SAMPLE_RATE

METRICS = ("sdr", "si_sdr", "pesq", "stoi")


def _sdr(estimates: np.ndarray, references: np.ndarray) -> np.ndarray:
    # BSS-eval v4 SDR with its 512-tap distortion filter, outputs already matched to references
    return np.asarray(fast_bss_eval.sdr(references.astype(np.float64), estimates.astype(np.float64)))


def _si_sdr(estimates: np.ndarray, references: np.ndarray) -> np.ndarray:
    return scale_invariant_signal_distortion_ratio(
        torch.from_numpy(estimates).double(), torch.from_numpy(references).double(), zero_mean=True
    ).numpy()


def _pesq(estimates: np.ndarray, references: np.ndarray) -> np.ndarray:
    """NaN where PESQ cannot score (no utterance found in a near-silent reference), rather than
    one such mixture stopping a long evaluation; ``summarize`` counts those apart."""
    scores = np.array(
        [
            pesq(SAMPLE_RATE, r, e, "wb", on_error=PesqError.RETURN_VALUES)
            for e, r in zip(estimates, references)
        ],
        dtype=np.float64,
    )
    return np.where(scores < 0, np.nan, scores)  # its error codes are negative; MOS-LQO is 1.0..4.64


def _stoi(estimates: np.ndarray, references: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # pystoi warns when it trims silent frames of short clips
        warnings.simplefilter("ignore")
        return np.array([stoi(r, e, SAMPLE_RATE) for e, r in zip(estimates, references)])


SCORERS = {"sdr": _sdr, "si_sdr": _si_sdr, "pesq": _pesq, "stoi": _stoi}


def unprocessed_scores(
    references: np.ndarray, mixture: np.ndarray, metrics: tuple[str, ...] = METRICS
) -> dict[str, np.ndarray]:
    """The mixture itself scored against each of the (N, samples) references: what an improvement
    is over. The same for every separator on the same mixture, so callers scoring several keep it."""
    references = np.asarray(references, np.float32)
    unprocessed = np.broadcast_to(np.asarray(mixture, np.float32), references.shape).copy()
    return {name: SCORERS[name](unprocessed, references) for name in metrics}


def score_separation(
    estimates: np.ndarray,
    references: np.ndarray,
    mixture: np.ndarray,
    metrics: tuple[str, ...] = METRICS,
    unprocessed: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """(N, samples) estimates already matched to (N, samples) references, (samples,) mixture at
    16 kHz -> {metric: (N,), metric + "i": (N,) improvement over scoring the mixture itself}.
    ``unprocessed``: ``unprocessed_scores`` of these references and mixture, when already known."""
    estimates, references = np.asarray(estimates, np.float32), np.asarray(references, np.float32)
    unprocessed = unprocessed or unprocessed_scores(references, mixture, metrics)
    out = {}
    for name in metrics:
        scored = SCORERS[name](estimates, references)
        out[name], out[name + "i"] = scored, scored - unprocessed[name]
    return out


def summarize(values: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict:
    """Mean and median with percentile-bootstrap intervals over the items (mixtures); items a
    metric could not score (NaN) are left out and counted as ``unscored``."""
    values = np.asarray(values, dtype=np.float64)
    unscored = int(np.isnan(values).sum())
    values = values[~np.isnan(values)]
    if not values.size:
        return {"n": 0, "unscored": unscored}
    out = {
        "n": int(values.size),
        "unscored": unscored,
        "mean": float(values.mean()),
        "median": float(np.median(values)),
    }
    for name, statistic in (("mean", np.mean), ("median", np.median)):
        if values.size > 1:
            ci = bootstrap(
                (values,),
                statistic,
                confidence_level=confidence,
                n_resamples=resamples,
                method="percentile",
                random_state=np.random.default_rng(seed),
            ).confidence_interval
            out[f"{name}_ci"] = [float(ci.low), float(ci.high)]
        else:
            out[f"{name}_ci"] = [out[name], out[name]]
    return out
