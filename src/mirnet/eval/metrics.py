"""Speaker-verification metrics: ROC/DET points, EER, minDCF and bootstrap confidence intervals.

Convention: ``scores`` are higher for "same speaker" (pass negated distances) and ``labels`` are
1 for target trials, 0 for non-target trials. A trial is accepted when ``score >= threshold``.
Every metric is computed exactly from one sort of the scores (ties form a single operating
point), and the same batched code serves both the point estimate and the bootstrap, so the two
can never disagree on how ties or interpolation are handled.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

Statistic = Callable[[np.ndarray, np.ndarray], float]


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


def _sorted_counts(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Error rates after accepting the top j trials of each row, j = 0..N.

    ``scores``/``labels`` are (B, N) with the same number of targets in every row. Returns
    fpr, fnr, thresholds and ``valid``, all (B, N + 1); column j is a real operating point only
    where ``valid`` (the j-th trial is the last of its tie group), column 0 is the reject-all
    point with threshold +inf.
    """
    order = np.argsort(-scores, axis=1)
    s = np.take_along_axis(scores, order, axis=1)
    lab = np.take_along_axis(labels, order, axis=1)
    n_tar = lab[0].sum()
    n_non = lab.shape[1] - n_tar
    zeros = np.zeros((s.shape[0], 1))
    tp = np.concatenate([zeros, np.cumsum(lab, axis=1)], axis=1)
    fp = np.concatenate([zeros, np.cumsum(~lab, axis=1)], axis=1)
    thresholds = np.concatenate([np.full_like(zeros, np.inf), s], axis=1)
    tie_end = np.concatenate([s[:, :-1] != s[:, 1:], np.ones_like(zeros, dtype=bool)], axis=1)
    valid = np.concatenate([np.ones_like(zeros, dtype=bool), tie_end], axis=1)
    return fp / n_non, (n_tar - tp) / n_tar, thresholds, valid


def _crossing(
    fpr: np.ndarray, fnr: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the valid points (prev, cur) bracketing fnr == fpr and the fraction alpha between them.

    Requires fnr > fpr at column 0 and fnr <= fpr at some valid column, true of every full curve.
    """
    d = fnr - fpr
    cols = np.arange(d.shape[1])
    cur = np.argmax(valid & (d <= 0), axis=1)
    last_valid = np.maximum.accumulate(np.where(valid, cols, 0), axis=1)
    rows = np.arange(d.shape[0])
    prev = last_valid[rows, cur - 1]
    alpha = d[rows, prev] / (d[rows, prev] - d[rows, cur])
    return prev, cur, alpha


def _batched_eer(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """EER in percent for each row of (B, N) scores."""
    fpr, fnr, _, valid = _sorted_counts(scores, labels)
    prev, cur, alpha = _crossing(fpr, fnr, valid)
    rows = np.arange(fpr.shape[0])
    return 100.0 * (fpr[rows, prev] + alpha * (fpr[rows, cur] - fpr[rows, prev]))


def _batched_min_dcf(
    scores: np.ndarray, labels: np.ndarray, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0
) -> np.ndarray:
    """Normalized minDCF for each row of (B, N) scores."""
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"c_miss and c_fa must be positive, got {c_miss} and {c_fa}")
    fpr, fnr, _, valid = _sorted_counts(scores, labels)
    c_det = c_miss * p_target * fnr + c_fa * (1.0 - p_target) * fpr
    c_default = min(c_miss * p_target, c_fa * (1.0 - p_target))
    return np.where(valid, c_det, np.inf).min(axis=1) / c_default


def roc(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact operating points (fpr, fnr, thresholds), one per distinct score plus reject-all.

    Thresholds decrease from +inf; fpr rises from 0 to 1 and fnr falls from 1 to 0. Tied scores
    form a single point because no threshold can separate them.
    """
    scores, labels = _validate(scores, labels)
    fpr, fnr, thresholds, valid = _sorted_counts(scores[None], labels[None])
    keep = valid[0]
    return fpr[0, keep], fnr[0, keep], thresholds[0, keep]


def det_points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, fnr) of every operating point, ordered by decreasing threshold, for DET plots."""
    fpr, fnr, _ = roc(scores, labels)
    return fpr, fnr


def eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Equal error rate in percent, linearly interpolated where the fpr and fnr curves cross."""
    scores, labels = _validate(scores, labels)
    return float(_batched_eer(scores[None], labels[None])[0])


def eer_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Score threshold at the EER operating point, interpolated like ``eer``.

    When the crossing lies between the reject-all point and the top score, the top score is
    returned, since +inf is not a usable threshold.
    """
    fpr, fnr, thresholds = roc(scores, labels)
    prev, cur, alpha = (a[0] for a in _crossing(fpr[None], fnr[None], np.ones((1, fpr.size), dtype=bool)))
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
    prev, cur, alpha = _crossing(fpr[None], fnr[None], np.ones((1, fpr.size), dtype=bool))
    return 100.0 * float(fpr[prev[0]] + alpha[0] * (fpr[cur[0]] - fpr[prev[0]]))


def min_dcf(
    scores: np.ndarray, labels: np.ndarray, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0
) -> float:
    """Normalized minimum detection cost (NIST SRE): min over thresholds of C_det / C_default.

    C_det = c_miss * p_target * P_miss + c_fa * (1 - p_target) * P_fa and
    C_default = min(c_miss * p_target, c_fa * (1 - p_target)), the cost of always rejecting or
    always accepting, so the result lies in [0, 1].
    """
    scores, labels = _validate(scores, labels)
    return float(_batched_min_dcf(scores[None], labels[None], p_target, c_miss, c_fa)[0])


_BATCHED: dict[Callable, Callable[..., np.ndarray]] = {eer: _batched_eer, min_dcf: _batched_min_dcf}


def _batched_statistic(statistic: Statistic) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Vectorized version of ``statistic`` (also through functools.partial), or a row-by-row loop."""
    if isinstance(statistic, functools.partial) and statistic.func in _BATCHED:
        return functools.partial(_BATCHED[statistic.func], *statistic.args, **statistic.keywords)
    if statistic in _BATCHED:
        return _BATCHED[statistic]
    return lambda s, lab: np.array([statistic(row, lab_row) for row, lab_row in zip(s, lab)])


def bootstrap_ci(
    scores: np.ndarray,
    labels: np.ndarray,
    statistic: Statistic = eer,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic``, resampling targets and non-targets separately.

    Stratifying keeps the class balance of every resample equal to the original one, so the
    interval reflects score variability, not a varying target fraction. ``eer`` and ``min_dcf``
    (bare or via functools.partial) are evaluated for all resamples at once; any other
    ``statistic(scores, labels) -> float`` is called once per resample.
    """
    scores, labels = _validate(scores, labels)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    tar, non = scores[labels], scores[~labels]
    resampled = np.concatenate(
        [rng.choice(tar, size=(n_boot, tar.size)), rng.choice(non, size=(n_boot, non.size))], axis=1
    )
    boot_labels = np.broadcast_to(np.arange(scores.size) < tar.size, resampled.shape)
    values = _batched_statistic(statistic)(resampled, boot_labels)
    lo, hi = np.quantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)
