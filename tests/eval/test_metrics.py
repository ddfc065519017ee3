"""Metrics are checked against hand-worked examples, Gaussian theory and brute-force counting loops
(the module itself is built on scikit-learn, so sklearn would not be an independent check)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.stats import norm

from mirnet.eval.metrics import bootstrap_ci, det_points, eer, eer_from_curve, eer_threshold, min_dcf, roc


def brute_force_points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Error rates counted trial by trial at +inf and at every distinct score, highest first."""
    tar, non = scores[labels == 1], scores[labels == 0]
    thresholds = np.array([np.inf, *sorted(set(scores.tolist()), reverse=True)])
    fpr = np.array([sum(s >= t for s in non) / non.size for t in thresholds])
    fnr = np.array([sum(s < t for s in tar) / tar.size for t in thresholds])
    return fpr, fnr, thresholds


def reference_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Walk the brute-force curve until fnr - fpr changes sign, interpolate linearly."""
    fpr, fnr, _ = brute_force_points(scores, labels)
    for k in range(1, fpr.size):
        d0, d1 = fnr[k - 1] - fpr[k - 1], fnr[k] - fpr[k]
        if d1 <= 0:
            return 100.0 * (fpr[k - 1] + d0 / (d0 - d1) * (fpr[k] - fpr[k - 1]))
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
    (4, 500, 0.5, 1),
    (5, 1500, 0.05, 0),
    (6, 50, 0.9, 1),
    (7, 7, 0.3, None),
]


def test_eer_of_hand_worked_examples() -> None:
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    separated = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0, -1.0])
    assert eer(separated, labels) == 0.0
    assert eer(-separated, labels) == 100.0
    assert eer(np.zeros(7), labels) == pytest.approx(50.0)  # one tie group: no threshold separates
    # T N T N N T: accepting >= 4 misses 1/3 and falsely accepts 1/3 of the trials
    assert eer(np.array([6.0, 5, 4, 3, 2, 1]), np.array([1, 0, 1, 0, 0, 1])) == pytest.approx(100 / 3)
    # the tie at 1 joins (fa 0, miss 1/2) at threshold 3 to (fa 1/2, miss 0): they cross at 1/4, halfway
    tied = np.array([3.0, 1.0, 1.0, 0.0])
    tied_labels = np.array([1, 1, 0, 0])
    assert eer(tied, tied_labels) == pytest.approx(25.0)
    assert eer_threshold(tied, tied_labels) == pytest.approx(2.0)


@pytest.mark.parametrize("shift", [0.0, 1.0, 2.0, 3.0])
def test_eer_of_gaussian_scores_matches_theory(shift: float) -> None:
    """Unit-variance classes `shift` apart cross at shift / 2, so EER = Phi(-shift / 2); shift 0 is chance."""
    rng = np.random.default_rng(int(10 * shift))
    n = 20000
    scores = np.concatenate([rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)])
    labels = np.repeat([1, 0], n)
    assert eer(scores, labels) == pytest.approx(100 * norm.cdf(-shift / 2), abs=0.8)


@pytest.mark.parametrize("seed,n,frac,decimals", CASES)
def test_points_and_eer_match_brute_force(seed: int, n: int, frac: float, decimals: int | None) -> None:
    scores, labels = synthetic(seed, n, frac, decimals)
    fpr, fnr, thr = roc(scores, labels)
    ref_fpr, ref_fnr, ref_thr = brute_force_points(scores, labels)
    np.testing.assert_array_equal(thr, ref_thr)
    np.testing.assert_allclose(fpr, ref_fpr, atol=1e-12)
    np.testing.assert_allclose(fnr, ref_fnr, atol=1e-12)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(fnr) <= 0)
    det_fpr, det_fnr = det_points(scores, labels)
    np.testing.assert_array_equal(det_fpr, fpr)
    np.testing.assert_array_equal(det_fnr, fnr)
    assert eer(scores, labels) == pytest.approx(reference_eer(scores, labels), abs=1e-9)
    assert eer_from_curve(fpr, fnr) == eer(scores, labels)
    shuffled = np.random.default_rng(seed).permutation(n)
    assert eer(scores[shuffled], labels[shuffled]) == eer(scores, labels)


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


@pytest.mark.parametrize("seed,n,frac,decimals", CASES[:5])
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


@pytest.mark.parametrize("statistic", [eer, functools.partial(min_dcf, p_target=0.05)])
def test_bootstrap_contains_estimate_and_narrows(statistic) -> None:
    small_scores, small_labels = synthetic(21, 200, 0.3)
    large_scores, large_labels = synthetic(22, 5000, 0.3)
    widths = []
    for scores, labels in ((small_scores, small_labels), (large_scores, large_labels)):
        lo, hi = bootstrap_ci(scores, labels, statistic, n_boot=200, seed=1)
        assert lo <= statistic(scores, labels) <= hi
        widths.append(hi - lo)
    assert 0.0 < widths[1] < 0.5 * widths[0]  # 25x the trials: about 1/5 of the width


def test_bootstrap_is_a_stratified_percentile_interval() -> None:
    """Against an explicit loop: each class resampled with replacement on its own (all target
    draws first, as scipy makes them), then the 5th and 95th percentiles of the EERs."""
    scores, labels = synthetic(24, 300, 0.4)
    tar, non = scores[labels == 1], scores[labels == 0]
    rng = np.random.default_rng(7)
    tar_idx, non_idx = rng.integers(0, tar.size, (150, tar.size)), rng.integers(0, non.size, (150, non.size))
    values = [
        eer(np.concatenate([tar[i], non[j]]), np.repeat([1, 0], [tar.size, non.size]))
        for i, j in zip(tar_idx, non_idx)
    ]
    expected = np.quantile(values, [0.05, 0.95])
    np.testing.assert_allclose(
        bootstrap_ci(scores, labels, n_boot=150, level=0.9, seed=7), expected, atol=1e-9
    )


def test_bootstrap_keeps_class_balance_and_matches_normal_theory() -> None:
    scores, labels = synthetic(25, 2000, 0.3)
    n_tar = int(labels.sum())
    seen = []

    def target_mean(s: np.ndarray, lab: np.ndarray) -> float:
        seen.append(int(lab.sum()))
        assert lab[:n_tar].all() and not lab[n_tar:].any()  # targets first
        return float(s[lab.astype(bool)].mean())

    lo, hi = bootstrap_ci(scores, labels, target_mean, n_boot=400, seed=2)
    assert set(seen) == {n_tar}
    tar = scores[labels == 1]
    half = 1.96 * tar.std(ddof=1) / np.sqrt(tar.size)  # the mean's normal-theory interval
    assert lo == pytest.approx(tar.mean() - half, abs=0.25 * half)
    assert hi == pytest.approx(tar.mean() + half, abs=0.25 * half)


def test_bootstrap_is_seeded() -> None:
    scores, labels = synthetic(23, 300, 0.4)
    assert bootstrap_ci(scores, labels, n_boot=100, seed=3) == bootstrap_ci(
        scores, labels, n_boot=100, seed=3
    )
    assert bootstrap_ci(scores, labels, n_boot=100, seed=3) != bootstrap_ci(
        scores, labels, n_boot=100, seed=4
    )
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
        ([0.1, 0.2], [[1, 0]], "labels must be 1-D"),
        ([], [], "both targets and non-targets"),
    ],
)
@pytest.mark.parametrize("fn", [eer, eer_threshold, min_dcf, roc, det_points, bootstrap_ci])
def test_bad_inputs_raise(fn, scores, labels, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(np.asarray(scores, dtype=float), np.asarray(labels))


def test_non_numeric_scores_raise() -> None:
    with pytest.raises(ValueError, match="scores must be numeric"):
        eer(np.array(["a", "b"]), np.array([1, 0]))


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


@pytest.mark.parametrize(
    "scores,labels,kwargs,match",
    [
        ([1.0, 0.0, 2.0, -1.0], [1, 0, 1, 0], {"n_boot": 0}, "n_boot"),
        ([1.0, 0.0, 2.0, -1.0], [1, 0, 1, 0], {"level": 1.0}, "level"),
        ([1.0, 0.0, -1.0], [1, 0, 0], {}, "at least 2 targets and 2 non-targets"),
    ],
)
def test_bad_bootstrap_parameters_raise(scores: list, labels: list, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(np.array(scores), np.array(labels), **kwargs)


def test_eer_from_curve_rejects_a_curve_that_does_not_cross() -> None:
    with pytest.raises(ValueError, match="does not cross"):
        eer_from_curve(np.array([0.0, 0.1]), np.array([0.9, 0.5]))
    with pytest.raises(ValueError, match="equal nonzero length"):
        eer_from_curve(np.array([0.0, 1.0]), np.array([1.0]))
