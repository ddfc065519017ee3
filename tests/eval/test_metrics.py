"""Metrics are checked against scikit-learn and brute-force loops, not against themselves."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from mirnet.eval.metrics import bootstrap_ci, det_points, eer, eer_from_curve, eer_threshold, min_dcf, roc


def reference_eer(scores: np.ndarray, labels: np.ndarray, drop_intermediate: bool) -> float:
    """EER from sklearn's ROC: walk the segments until fnr - fpr changes sign, interpolate linearly."""
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=drop_intermediate)
    fnr = 1.0 - tpr
    for k in range(1, fpr.size):
        d0, d1 = fnr[k - 1] - fpr[k - 1], fnr[k] - fpr[k]
        if d1 <= 0:
            t = d0 / (d0 - d1)
            return 100.0 * (fpr[k - 1] + t * (fpr[k] - fpr[k - 1]))
    raise AssertionError("curve never crossed")


def synthetic(
    seed: int, n: int, target_fraction: float, decimals: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < target_fraction).astype(int)
    labels[:2] = (1, 0)
    scores = rng.normal(size=n) + 1.5 * labels
    return (np.round(scores, decimals) if decimals is not None else scores), labels


CASES = [  # seed, n, target fraction, rounding (coarse rounding creates many ties)
    (0, 10, 0.5, None),
    (1, 101, 0.5, None),
    (2, 1000, 0.1, None),
    (3, 2000, 0.02, None),
    (4, 500, 0.5, 1),
    (5, 3000, 0.05, 0),
    (6, 50, 0.9, 1),
    (7, 7, 0.3, None),
]


@pytest.mark.parametrize("seed,n,frac,decimals", CASES)
@pytest.mark.parametrize("drop", [False, True])
def test_eer_matches_sklearn(seed: int, n: int, frac: float, decimals: int | None, drop: bool) -> None:
    scores, labels = synthetic(seed, n, frac, decimals)
    assert eer(scores, labels) == pytest.approx(reference_eer(scores, labels, drop), abs=1e-9)


@pytest.mark.parametrize("seed,n,frac,decimals", CASES)
def test_roc_matches_sklearn_points(seed: int, n: int, frac: float, decimals: int | None) -> None:
    scores, labels = synthetic(seed, n, frac, decimals)
    fpr, fnr, thr = roc(scores, labels)
    ref_fpr, ref_tpr, ref_thr = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr, atol=1e-12)
    np.testing.assert_allclose(fnr, 1.0 - ref_tpr, atol=1e-12)
    np.testing.assert_array_equal(thr, ref_thr)
    det_fpr, det_fnr = det_points(scores, labels)
    np.testing.assert_array_equal(det_fpr, fpr)
    np.testing.assert_array_equal(det_fnr, fnr)
    assert eer_from_curve(fpr, fnr) == pytest.approx(eer(scores, labels), abs=1e-9)


def test_eer_extremes() -> None:
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    separated = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0, -1.0])
    assert eer(separated, labels) == 0.0
    assert eer(-separated, labels) == 100.0
    assert eer(np.zeros(7), labels) == pytest.approx(50.0)
    rng = np.random.default_rng(0)
    assert eer(rng.normal(size=20000), rng.integers(0, 2, 20000)) == pytest.approx(50.0, abs=2.0)


def test_eer_threshold_splits_the_errors() -> None:
    scores, labels = synthetic(11, 4000, 0.5)
    thr = eer_threshold(scores, labels)
    miss = np.mean(scores[labels == 1] < thr)
    fa = np.mean(scores[labels == 0] >= thr)
    assert miss == pytest.approx(eer(scores, labels) / 100, abs=2e-3)
    assert fa == pytest.approx(eer(scores, labels) / 100, abs=2e-3)
    labels = np.array([1, 1, 0, 0])
    assert eer_threshold(np.array([4.0, 3.0, 2.0, 1.0]), labels) == 3.0  # accepting >= 3 makes no error


def brute_force_min_dcf(
    scores: np.ndarray, labels: np.ndarray, p: float, c_miss: float, c_fa: float
) -> float:
    best = np.inf
    for thr in [*np.unique(scores), np.inf]:
        p_miss = np.mean(scores[labels == 1] < thr)
        p_fa = np.mean(scores[labels == 0] >= thr)
        best = min(best, c_miss * p * p_miss + c_fa * (1 - p) * p_fa)
    return best / min(c_miss * p, c_fa * (1 - p))


@pytest.mark.parametrize("seed,n,frac,decimals", CASES[:6])
@pytest.mark.parametrize(
    "p,c_miss,c_fa", [(0.01, 1.0, 1.0), (0.05, 1.0, 1.0), (0.5, 10.0, 1.0), (0.001, 1.0, 3.0)]
)
def test_min_dcf_matches_brute_force(
    seed: int, n: int, frac: float, decimals: int | None, p: float, c_miss: float, c_fa: float
) -> None:
    scores, labels = synthetic(seed, n, frac, decimals)
    value = min_dcf(scores, labels, p_target=p, c_miss=c_miss, c_fa=c_fa)
    assert value == pytest.approx(brute_force_min_dcf(scores, labels, p, c_miss, c_fa), abs=1e-12)
    assert 0.0 <= value <= 1.0


def test_min_dcf_extremes() -> None:
    labels = np.array([1, 1, 0, 0, 0])
    assert min_dcf(np.array([3.0, 2.0, 1.0, 0.0, -1.0]), labels) == 0.0
    assert min_dcf(np.array([-3.0, -2.0, 1.0, 0.0, -1.0]), labels) == pytest.approx(1.0)


def test_bootstrap_contains_estimate_and_narrows() -> None:
    small_scores, small_labels = synthetic(21, 200, 0.3)
    large_scores, large_labels = synthetic(22, 5000, 0.3)
    widths = []
    for scores, labels in ((small_scores, small_labels), (large_scores, large_labels)):
        lo, hi = bootstrap_ci(scores, labels, n_boot=300, seed=1)
        assert lo <= eer(scores, labels) <= hi
        widths.append(hi - lo)
    assert widths[1] < 0.5 * widths[0]


def test_bootstrap_is_reproducible_and_accepts_other_statistics() -> None:
    scores, labels = synthetic(23, 300, 0.4)
    assert bootstrap_ci(scores, labels, n_boot=100, seed=3) == bootstrap_ci(
        scores, labels, n_boot=100, seed=3
    )
    dcf = functools.partial(min_dcf, p_target=0.05)
    vectorized = bootstrap_ci(scores, labels, statistic=dcf, n_boot=50, seed=4)
    looped = bootstrap_ci(scores, labels, statistic=lambda s, lab: dcf(s, lab), n_boot=50, seed=4)
    assert vectorized == pytest.approx(looped, abs=1e-12)
    narrow = bootstrap_ci(scores, labels, n_boot=200, level=0.5, seed=5)
    wide = bootstrap_ci(scores, labels, n_boot=200, level=0.99, seed=5)
    assert wide[0] <= narrow[0] <= narrow[1] <= wide[1]


@pytest.mark.parametrize(
    "scores,labels,match",
    [
        ([0.1, 0.2, 0.3], [1, 0], "same length"),
        ([0.1, np.nan, 0.3], [1, 0, 1], "NaN/Inf"),
        ([0.1, np.inf, 0.3], [1, 0, 1], "NaN/Inf"),
        ([0.1, 0.2, 0.3], [1, 1, 1], "both targets and non-targets"),
        ([0.1, 0.2, 0.3], [0, 0, 0], "both targets and non-targets"),
        ([0.1, 0.2, 0.3], [1, 2, 0], "labels must be 0"),
        ([[0.1, 0.2]], [1, 0], "scores must be 1-D"),
        ([], [], "both targets and non-targets"),
    ],
)
@pytest.mark.parametrize("fn", [eer, eer_threshold, min_dcf, roc, det_points, bootstrap_ci])
def test_bad_inputs_raise(fn, scores, labels, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(np.asarray(scores, dtype=float), np.asarray(labels))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"p_target": 0.0}, "p_target"),
        ({"p_target": 1.0}, "p_target"),
        ({"c_miss": 0.0}, "c_miss"),
        ({"c_fa": -1.0}, "c_fa"),
    ],
)
def test_bad_dcf_parameters_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        min_dcf(np.array([1.0, 0.0]), np.array([1, 0]), **kwargs)


@pytest.mark.parametrize("kwargs,match", [({"n_boot": 0}, "n_boot"), ({"level": 1.0}, "level")])
def test_bad_bootstrap_parameters_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(np.array([1.0, 0.0]), np.array([1, 0]), **kwargs)


def test_eer_from_curve_rejects_a_curve_that_does_not_cross() -> None:
    with pytest.raises(ValueError, match="does not cross"):
        eer_from_curve(np.array([0.0, 0.1]), np.array([0.9, 0.5]))
