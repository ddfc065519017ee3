"""Speaker-verification metrics: ROC/DET points, EER, minDCF and bootstrap confidence intervals.

Convention: ``scores`` are higher for "same speaker" (pass negated distances) and ``labels`` are
1 for target trials, 0 for non-target trials. A trial is accepted when ``score >= threshold``.
The operating points come from scikit-learn's ``roc_curve`` (ties form a single point), and EER
and minDCF are read off those points; intervals come from ``scipy.stats.bootstrap``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import bootstrap
from sklearn.metrics import roc_curve

Statistic = Callable[[np.ndarray, np.ndarray], float]
_MAX_RESAMPLED = 2**24  # resampled scores per scipy batch (128 MiB): bounds memory on big trial lists


def _validate(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (float64 scores, bool labels) or raise ValueError saying which argument is wrong."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels must have the same length, got {scores.size} and {labels.size}")
    if not (np.issubdtype(scores.dtype, np.number) or scores.dtype == bool):
        raise ValueError(f"scores must be numeric, got dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(f"scores contain {int((~np.isfinite(scores)).sum())} NaN/Inf values")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 (non-target) or 1 (target), got values {np.unique(labels)[:5]}")
    labels = labels.astype(bool)
    if not labels.any() or labels.all():
        raise ValueError(
            f"labels must contain both targets and non-targets, got {int(labels.sum())} targets "
            f"and {int((~labels).sum())} non-targets"
        )
    return scores, labels


def _points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, fnr, thresholds) of validated inputs from sklearn's ``roc_curve``, reject-all first.

    fnr is (n_tar - tp) / n_tar from the true-positive counts recovered exactly from tpr (rint is
    exact below 2**51 trials), not 1 - tpr, which can be one ulp off and would move the EER bits.
    """
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    n_tar = np.count_nonzero(labels)
    return fpr, (n_tar - np.rint(tpr * n_tar)) / n_tar, thresholds


def _crossing(fpr: np.ndarray, fnr: np.ndarray) -> tuple[int, int, float]:
    """Points (prev, cur) bracketing fnr == fpr and the fraction alpha of the way from prev to cur.

    Hand-written: sklearn has no EER. cur is the first point with fnr <= fpr, prev the one before;
    requires fnr > fpr at the first point and fnr <= fpr at some point, true of every full curve.
    """
    d = fnr - fpr
    cur = int(np.argmax(d <= 0))
    prev = cur - 1
    return prev, cur, float(d[prev] / (d[prev] - d[cur]))


def _eer(fpr: np.ndarray, fnr: np.ndarray) -> float:
    prev, cur, alpha = _crossing(fpr, fnr)
    return 100.0 * float(fpr[prev] + alpha * (fpr[cur] - fpr[prev]))


def roc(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact operating points (fpr, fnr, thresholds), one per distinct score plus reject-all.

    Thresholds decrease from +inf; fpr rises from 0 to 1 and fnr falls from 1 to 0. Tied scores
    form a single point because no threshold can separate them.
    """
    return _points(*_validate(scores, labels))


def det_points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, fnr) of every operating point, ordered by decreasing threshold, for DET plots.

    Unlike sklearn's ``det_curve`` this keeps the reject-all end and the segments along fpr = 0
    and fnr = 0, so ``eer_from_curve`` can interpolate a crossing at either end.
    """
    fpr, fnr, _ = roc(scores, labels)
    return fpr, fnr


def eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Equal error rate in percent, linearly interpolated where the fpr and fnr curves cross."""
    fpr, fnr, _ = roc(scores, labels)
    return _eer(fpr, fnr)


def eer_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Score threshold at the EER operating point, interpolated like ``eer``.

    When the crossing lies between the reject-all point and the top score, the top score is
    returned, since +inf is not a usable threshold.
    """
    fpr, fnr, thresholds = roc(scores, labels)
    prev, cur, alpha = _crossing(fpr, fnr)
    if prev == 0:
        return float(thresholds[cur])
    return float(thresholds[prev] + alpha * (thresholds[cur] - thresholds[prev]))


def eer_from_curve(fpr: np.ndarray, fnr: np.ndarray) -> float:
    """EER in percent from precomputed DET points (e.g. from ``det_points``), for plotting.

    Points are sorted by increasing fpr (then decreasing fnr) first; the curve must start on the
    fnr >= fpr side and end on the fnr <= fpr side.
    """
    fpr, fnr = np.asarray(fpr, dtype=np.float64), np.asarray(fnr, dtype=np.float64)
    if fpr.ndim != 1 or fpr.shape != fnr.shape or fpr.size == 0:
        raise ValueError(f"fpr and fnr must be 1-D of equal nonzero length, got {fpr.shape} and {fnr.shape}")
    order = np.lexsort((-fnr, fpr))
    fpr, fnr = fpr[order], fnr[order]
    d = fnr - fpr
    if d[0] < 0 or d[-1] > 0:
        raise ValueError("fpr/fnr curve does not cross fpr == fnr")
    if d[0] == 0:
        return 100.0 * float(fpr[0])
    return _eer(fpr, fnr)


def min_dcf(
    scores: np.ndarray, labels: np.ndarray, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0
) -> float:
    """Normalized minimum detection cost (NIST SRE): min over thresholds of C_det / C_default.

    C_det = c_miss * p_target * P_miss + c_fa * (1 - p_target) * P_fa and
    C_default = min(c_miss * p_target, c_fa * (1 - p_target)), the cost of always rejecting or
    always accepting, so the result lies in [0, 1]. Hand-written on ``roc`` points: sklearn has no
    detection cost.
    """
    fpr, fnr, _ = roc(scores, labels)
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"c_miss and c_fa must be positive, got {c_miss} and {c_fa}")
    c_det = c_miss * p_target * fnr + c_fa * (1.0 - p_target) * fpr
    c_default = min(c_miss * p_target, c_fa * (1.0 - p_target))
    return float(c_det.min() / c_default)


def bootstrap_ci(
    scores: np.ndarray,
    labels: np.ndarray,
    statistic: Statistic = eer,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (``scipy.stats.bootstrap``), deterministic in ``seed``.

    Targets and non-targets are passed as two independent (unpaired) samples, so scipy resamples
    each with replacement on its own and every resample keeps the original class balance: the
    interval reflects score variability, not a varying target fraction. ``statistic(scores,
    labels) -> float`` is called once per resample with the targets first.
    """
    scores, labels = _validate(scores, labels)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tar, non = scores[labels], scores[~labels]
    if min(tar.size, non.size) < 2:
        raise ValueError(
            f"bootstrap_ci needs at least 2 targets and 2 non-targets to resample, got {tar.size} "
            f"targets and {non.size} non-targets"
        )
    resampled_labels = np.arange(scores.size) < tar.size
    result = bootstrap(
        (tar, non),
        lambda t, n: statistic(np.concatenate([t, n]), resampled_labels),
        n_resamples=n_boot,
        batch=max(1, _MAX_RESAMPLED // scores.size),
        vectorized=False,
        paired=False,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    lo, hi = result.confidence_interval
    return float(lo), float(hi)
