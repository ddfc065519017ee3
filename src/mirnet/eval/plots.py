"""Figures for the paper's analyses: t-SNE of embeddings, attention over sources, DET, training logs,
spectrograms of separated speech.

Every function draws on its own ``Figure`` with the Agg canvas (no pyplot, so no global backend
switch and no figures left open), writes a PNG, creates missing parent folders and returns the
path. Inputs are checked first so a wrong shape fails with the argument's name, not deep inside
matplotlib.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.signal import stft
from scipy.stats import norm
from sklearn.manifold import TSNE

from mirnet.errors import InputError
from mirnet.eval.metrics import eer_from_curve

PathLike = str | os.PathLike[str]
MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")
DET_TICKS = (0.1, 0.5, 1, 2, 5, 10, 20, 40, 60, 80, 95)  # percent
DET_RANGE = (5e-4, 0.98)  # axis limits as probabilities; 0 and 1 have infinite normal deviates


def _save(fig: Figure, path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=120, bbox_inches="tight")
    return path


def _array(value: np.ndarray, name: str, ndim: int) -> np.ndarray:
    """``value`` as a finite float array of ``ndim`` dimensions, or ValueError naming it."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN/Inf values")
    return arr


def plot_tsne(
    embeddings: np.ndarray,
    labels: Sequence[str],
    path: PathLike,
    title: str,
    seed: int = 0,
    markers: Sequence[str] | None = None,
) -> Path:
    """2-D t-SNE of (M, D) embeddings coloured by speaker, optionally shaped by a second category.

    The marker category shows whether the two outputs of a mixture land on distinct speaker
    clusters (paper Fig. 3b colours embeddings per output channel).
    """
    emb = _array(embeddings, "embeddings", 2)
    m = emb.shape[0]
    if m < 4:
        raise ValueError(f"embeddings needs at least 4 rows for t-SNE, got {m}")
    if len(labels) != m:
        raise ValueError(f"labels has {len(labels)} entries, expected one per embedding ({m})")
    if markers is not None and len(markers) != m:
        raise ValueError(f"markers has {len(markers)} entries, expected one per embedding ({m})")
    speakers = list(dict.fromkeys(labels))
    if len(speakers) > 20:
        raise ValueError(
            f"labels has {len(speakers)} distinct speakers; at most 20 can be told apart in tab20"
        )
    categories = list(dict.fromkeys(markers)) if markers is not None else [None]
    if len(categories) > len(MARKERS):
        raise ValueError(
            f"markers has {len(categories)} distinct values; at most {len(MARKERS)} shapes exist"
        )

    init = "pca" if emb.shape[1] >= 2 else "random"
    xy = TSNE(n_components=2, perplexity=min(30.0, (m - 1) / 3), init=init, random_state=seed).fit_transform(
        emb
    )

    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["tab20"]
    speaker_idx = np.array([speakers.index(lab) for lab in labels])
    category_idx = (
        np.array([categories.index(c) for c in markers]) if markers is not None else np.zeros(m, dtype=int)
    )
    for k, shape in enumerate(MARKERS[: len(categories)]):
        sel = category_idx == k
        ax.scatter(
            xy[sel, 0],
            xy[sel, 1],
            c=[cmap(i) for i in speaker_idx[sel]],
            marker=shape,
            s=22,
            edgecolors="none",
            alpha=0.85,
        )
    speaker_handles = [
        Line2D([], [], ls="", marker="o", color=cmap(i), label=str(s)) for i, s in enumerate(speakers)
    ]
    legend = ax.legend(
        handles=speaker_handles, title="speaker", fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0)
    )
    if markers is not None:
        ax.add_artist(legend)
        shape_handles = [
            Line2D([], [], ls="", marker=shape, color="0.3", label=str(c))
            for c, shape in zip(categories, MARKERS)
        ]
        ax.legend(handles=shape_handles, fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0.0))
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def plot_attention(
    mixture_logspec: np.ndarray,
    source_logspecs: Sequence[np.ndarray],
    attention: np.ndarray,
    source_power: np.ndarray,
    path: PathLike,
    hop_seconds: float = 0.01,
) -> Path:
    """Paper Fig. 2: the mixture, then each source with its attention and its power contour on top.

    Attention should follow the frames where its source dominates; the min-max scaled power
    contour is drawn next to it so that agreement can be judged by eye.
    """
    mix = _array(mixture_logspec, "mixture_logspec", 2)
    n_freq, n_frames = mix.shape
    sources = [_array(s, f"source_logspecs[{i}]", 2) for i, s in enumerate(source_logspecs)]
    if not sources:
        raise ValueError("source_logspecs is empty; need at least one source")
    for i, s in enumerate(sources):
        if s.shape != mix.shape:
            raise ValueError(f"source_logspecs[{i}] has shape {s.shape}, expected the mixture's {mix.shape}")
    att = _array(attention, "attention", 2)
    power = _array(source_power, "source_power", 2)
    for name, arr in (("attention", att), ("source_power", power)):
        if arr.shape != (len(sources), n_frames):
            raise ValueError(
                f"{name} has shape {arr.shape}, expected (n_sources, frames) = {(len(sources), n_frames)}"
            )
    if att.min() < 0.0 or att.max() > 1.0:
        raise ValueError(f"attention must lie in [0, 1], got range [{att.min():.3g}, {att.max():.3g}]")
    if hop_seconds <= 0:
        raise ValueError(f"hop_seconds must be positive, got {hop_seconds}")

    span = power.max(axis=1, keepdims=True) - power.min(axis=1, keepdims=True)
    contour = (power - power.min(axis=1, keepdims=True)) / np.where(span > 0, span, 1.0)
    duration = n_frames * hop_seconds
    t = (np.arange(n_frames) + 0.5) * hop_seconds
    vmin, vmax = min(mix.min(), *(s.min() for s in sources)), max(mix.max(), *(s.max() for s in sources))

    fig = Figure(figsize=(8.0, 2.0 * (len(sources) + 1)))
    axes = fig.subplots(len(sources) + 1, 1, sharex=True, squeeze=False)[:, 0]
    for ax, spec, name in zip(
        axes, [mix, *sources], ["mixture", *(f"source {i + 1}" for i in range(len(sources)))]
    ):
        ax.imshow(
            spec,
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0.0, duration, 0, n_freq),
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
        )
        ax.set_ylabel(f"{name}\nfreq bin")
    for i, ax in enumerate(axes[1:]):
        twin = ax.twinx()
        twin.plot(t, att[i], color="yellow", lw=1.6, label="attention")
        twin.plot(t, contour[i], color="tab:blue", lw=1.2, label="power (normalized)")
        twin.set_ylim(-0.02, 1.05)
        twin.set_ylabel("weight")
        if i == 0:
            twin.legend(loc="upper right", fontsize=7, framealpha=0.6)
    axes[-1].set_xlabel("time (s)")
    return _save(fig, path)


def plot_det(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: PathLike, title: str = "DET") -> Path:
    """DET curves on normal-deviate axes, one per system, each with its EER point marked."""
    if not curves:
        raise ValueError("curves is empty; need at least one (fpr, fnr) pair")
    fig = Figure(figsize=(5.5, 5.5))
    ax = fig.add_subplot()
    for name, pair in curves.items():
        if len(pair) != 2:
            raise ValueError(f"curves[{name!r}] must be an (fpr, fnr) pair")
        fpr, fnr = _array(pair[0], f"curves[{name!r}] fpr", 1), _array(pair[1], f"curves[{name!r}] fnr", 1)
        if fpr.shape != fnr.shape:
            raise ValueError(f"curves[{name!r}]: fpr and fnr lengths differ ({fpr.size} vs {fnr.size})")
        if min(fpr.min(), fnr.min()) < 0 or max(fpr.max(), fnr.max()) > 1:
            raise ValueError(f"curves[{name!r}]: fpr and fnr must be probabilities in [0, 1]")
        rate = eer_from_curve(fpr, fnr) / 100.0
        (line,) = ax.plot(
            norm.ppf(np.clip(fpr, *DET_RANGE)),
            norm.ppf(np.clip(fnr, *DET_RANGE)),
            lw=1.5,
            label=f"{name} (EER {100 * rate:.2f}%)",
        )
        z = norm.ppf(np.clip(rate, *DET_RANGE))
        ax.plot([z], [z], marker="o", color=line.get_color(), ms=6)
    ticks = norm.ppf(np.array(DET_TICKS) / 100.0)
    labels = [f"{p:g}" for p in DET_TICKS]
    limit = tuple(norm.ppf(DET_RANGE))
    for axis_ticks, axis_labels, axis_lim in (
        (ax.set_xticks, ax.set_xticklabels, ax.set_xlim),
        (ax.set_yticks, ax.set_yticklabels, ax.set_ylim),
    ):
        axis_ticks(ticks)
        axis_labels(labels)
        axis_lim(*limit)
    ax.tick_params(labelsize=8)
    ax.plot(limit, limit, color="0.7", lw=0.8, ls=":")
    ax.grid(True, color="0.85")
    ax.set_xlabel("false alarm rate (%)")
    ax.set_ylabel("miss rate (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def _column(rows: list[dict[str, str]], x: str, y: str, source: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) values of the rows where both cells are filled, sorted by x."""
    try:
        pairs = [(float(r[x]), float(r[y])) for r in rows if (r[x] or "").strip() and (r[y] or "").strip()]
    except ValueError as err:
        raise InputError(f"{source}: non-numeric cell in column {x!r} or {y!r}: {err}") from None
    arr = np.array(sorted(pairs), dtype=np.float64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def plot_training_curves(
    csv_path: PathLike,
    path: PathLike,
    x: str = "step",
    ys: Sequence[str] = ("train_loss", "val_loss"),
    x2: str | None = None,
) -> Path:
    """Plot the columns ``ys`` of a CSV training log against ``x``; missing columns are skipped.

    Logs mix rows written at different times (train every step, validation every epoch), so each
    curve uses only the rows where its cell is filled. ``x2`` (e.g. "epoch" or "elapsed_s") adds
    a secondary top axis mapped from ``x`` by interpolation, so it must grow with ``x``.
    """
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        rows = list(reader)
    if x not in columns:
        raise InputError(f"x column {x!r} not in {csv_path} (columns: {columns})")
    present = [y for y in ys if y in columns]
    if not present:
        raise InputError(f"none of ys {list(ys)} is a column of {csv_path} (columns: {columns})")
    if x2 is not None and x2 not in columns:
        raise InputError(f"x2 column {x2!r} not in {csv_path} (columns: {columns})")

    fig = Figure(figsize=(7.0, 4.0))
    ax = fig.add_subplot()
    for y in present:
        xs, vals = _column(rows, x, y, csv_path)
        if xs.size:  # a column logged only by some configurations is present but empty
            ax.plot(xs, vals, marker="o" if xs.size <= 30 else None, ms=3, lw=1.3, label=y)
    if x2 is not None:
        xs, x2s = _column(rows, x, x2, csv_path)
        if xs.size >= 2:
            secondary = ax.secondary_xaxis(
                "top", functions=(lambda v: np.interp(v, xs, x2s), lambda v: np.interp(v, x2s, xs))
            )
            secondary.set_xlabel(x2)
    ax.set_xlabel(x)
    ax.grid(True, color="0.9")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_eer_vs_time(
    curves: Mapping[str, Sequence[tuple[float, float]]], path: PathLike, label: str = "EER (%)"
) -> Path:
    """EER against training time in minutes, one line per run, to compare how fast designs
    converge per CPU-second (a design is judged by this curve, not by its final number alone)."""
    if not curves:
        raise ValueError("curves is empty; need at least one run's points")
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    for (name, points), marker in zip(curves.items(), MARKERS * len(curves)):
        pts = _array(points, f"points of {name!r}", 2)
        if pts.shape[1] != 2:
            raise ValueError(f"points of {name!r} must be (minutes, eer) pairs, got shape {pts.shape}")
        pts = pts[np.argsort(pts[:, 0], kind="stable")]
        ax.plot(pts[:, 0], pts[:, 1], marker=marker, ms=4, lw=1.4, label=name)
    ax.set_xlabel("training time (min)")
    ax.set_ylabel(label)
    ax.grid(True, color="0.9")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_sweep(
    values: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    path: PathLike,
    xlabel: str,
    ylabel: str = "EER (%)",
) -> Path:
    """One line per system over a swept setting (SIR, overlap, crop length, speakers)."""
    xs = _array(values, "values", 1)
    if not curves:
        raise ValueError("curves is empty; need at least one system")
    fig = Figure(figsize=(5.5, 4.0))
    ax = fig.add_subplot()
    for (name, ys), marker in zip(curves.items(), MARKERS * len(curves)):
        ys = _array(ys, f"curves[{name!r}]", 1)
        if ys.shape != xs.shape:
            raise ValueError(f"curves[{name!r}] has {ys.size} values for {xs.size} settings")
        ax.plot(xs, ys, marker=marker, ms=5, lw=1.4, label=name)
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{x:g}" for x in xs])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(True, color="0.9")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_spectrogram_grid(
    rows: Mapping[str, Sequence[np.ndarray | None]],
    columns: Sequence[str],
    path: PathLike,
    title: str = "",
    sample_rate: int = 16000,
    floor_db: float = 80.0,
) -> Path:
    """Log-magnitude spectrograms of waveforms in a grid, one labelled row per entry of ``rows``,
    column k titled ``columns[k]`` (None leaves a panel empty).

    One colour scale for every panel, clipped ``floor_db`` below the loudest bin, so that what a
    separator left of the other speaker reads as the same shade as it does in the mixture."""
    if not rows:
        raise ValueError("rows is empty; need at least one row of waveforms")
    wavs = {}
    for name, row in rows.items():
        if len(row) != len(columns):
            raise ValueError(f"rows[{name!r}] has {len(row)} panels for {len(columns)} columns")
        for k, wav in enumerate(row):
            if wav is not None:
                wavs[name, k] = _array(wav, f"rows[{name!r}][{k}]", 1)
    if not wavs:
        raise ValueError("rows holds no waveform")
    lengths = {w.size for w in wavs.values()}
    if len(lengths) > 1:
        raise ValueError(
            f"rows: waveforms of {len(lengths)} different lengths ({sorted(lengths)}); one time axis "
            "needs one length"
        )
    if floor_db <= 0:
        raise ValueError(f"floor_db must be positive, got {floor_db}")
    n_fft, hop = 512, 128
    specs = {}
    for key, wav in wavs.items():
        _, _, z = stft(wav, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False)
        specs[key] = 20 * np.log10(np.abs(z) + 1e-10)
    vmax = max(s.max() for s in specs.values())
    duration, top = lengths.pop() / sample_rate, sample_rate / 2000

    fig = Figure(figsize=(3.2 * len(columns), 2.0 * len(rows) + 0.6))
    axes = fig.subplots(len(rows), len(columns), sharex=True, sharey=True, squeeze=False)
    image = None
    for r, name in enumerate(rows):
        for k, ax in enumerate(axes[r]):
            if r == 0:
                ax.set_title(columns[k], fontsize=9)
            if (name, k) not in specs:
                ax.set_axis_off()
                continue
            image = ax.imshow(
                specs[name, k],
                origin="lower",
                aspect="auto",
                cmap="magma",
                extent=(0.0, duration, 0.0, top),
                vmin=vmax - floor_db,
                vmax=vmax,
                interpolation="nearest",
            )
            if k == 0 or (name, k - 1) not in specs:
                ax.set_ylabel(f"{name}\nkHz", fontsize=8)
            if r == len(rows) - 1 or (list(rows)[r + 1], k) not in specs:  # the lowest panel of its column
                ax.set_xlabel("time (s)", fontsize=8)
                ax.tick_params(labelbottom=True)
            ax.tick_params(labelsize=7)
    fig.colorbar(image, ax=axes, shrink=0.6, label="dB")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_timeline(turns: Sequence[tuple[str, float, float]], seconds: float, path: PathLike) -> Path:
    """Who spoke when: one row per speaker, a bar per (speaker, start, end) turn in seconds;
    where bars of two rows stand over the same time, the talkers overlap."""
    speakers = sorted({s for s, _, _ in turns})
    fig = Figure(figsize=(10, 0.5 + 0.45 * max(len(speakers), 1)))
    ax = fig.add_subplot()
    colors = matplotlib.colormaps["tab10"]
    for row, speaker in enumerate(speakers):
        spans = [(a, b - a) for s, a, b in turns if s == speaker]
        ax.broken_barh(spans, (row - 0.4, 0.8), color=colors(row % 10))
    ax.set_yticks(range(len(speakers)), speakers)
    ax.set_xlim(0, max(seconds, 1e-3))
    ax.set_xlabel("seconds")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)
