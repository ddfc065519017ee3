"""Each plot is checked on what it drew: the figure handed to the PNG writer is captured and its
lines, scatter offsets, images and labels are compared with the inputs (and with ``metrics`` for
the DET curve); the PNG is checked to be readable. Wrong shapes fail naming the argument."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from scipy.stats import norm

from mirnet.eval import plots
from mirnet.eval.metrics import det_points, eer
from mirnet.eval.plots import (
    plot_attention,
    plot_det,
    plot_eer_vs_time,
    plot_spectrogram_grid,
    plot_sweep,
    plot_training_curves,
    plot_tsne,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the plot functions save, in call order (every function ends in ``plots._save``)."""
    figures: list[Figure] = []
    save = plots._save

    def capture(fig: Figure, path):
        figures.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", capture)
    return figures


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


def attention_inputs(n_sources: int = 2, n_freq: int = 16, n_frames: int = 40) -> dict:
    rng = np.random.default_rng(0)
    sources = [rng.normal(size=(n_freq, n_frames)) for _ in range(n_sources)]
    power = np.stack([np.exp(s).sum(axis=0) for s in sources])
    attention = power / power.sum(axis=0, keepdims=True)
    return {
        "mixture_logspec": np.logaddexp(*sources) if n_sources == 2 else sources[0],
        "source_logspecs": sources,
        "attention": attention,
        "source_power": power,
    }


@pytest.mark.slow
def test_plot_tsne_separates_two_clusters(tmp_path: Path, drawn: list[Figure]) -> None:
    rng = np.random.default_rng(0)
    emb = np.concatenate([rng.normal(0.0, 0.1, (12, 8)), rng.normal(5.0, 0.1, (12, 8))])
    labels = ["spk_a"] * 12 + ["spk_b"] * 12
    out = plot_tsne(emb, labels, tmp_path / "sub" / "tsne.png", title="two speakers", markers=["1", "2"] * 12)
    assert out == tmp_path / "sub" / "tsne.png"
    assert_png(out)
    assert_png(plot_tsne(emb, labels, tmp_path / "plain.png", title="no markers"))
    shaped, plain = drawn

    (ax,) = plain.axes
    assert ax.get_title() == "no markers"
    (points,) = ax.collections
    xy = points.get_offsets()
    assert xy.shape == (24, 2)
    cmap = matplotlib.colormaps["tab20"]
    np.testing.assert_allclose(
        points.get_facecolors()[:, :3], [cmap(0 if s == "spk_a" else 1)[:3] for s in labels]
    )
    a, b = xy[:12], xy[12:]
    within = max(np.ptp(a, axis=0).max(), np.ptp(b, axis=0).max())
    between = np.linalg.norm(a[:, None] - b[None], axis=-1).min()
    assert between > 2 * within, f"clusters overlap: gap {between:.3g}, spread {within:.3g}"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["spk_a", "spk_b"]

    (ax,) = shaped.axes
    assert ax.get_title() == "two speakers"
    circles, triangles = ax.collections  # one scatter per marker category, rows in input order
    np.testing.assert_array_equal(circles.get_offsets(), xy[0::2])  # same seed, same embedding
    np.testing.assert_array_equal(triangles.get_offsets(), xy[1::2])
    legends = {
        lg.get_title().get_text(): [t.get_text() for t in lg.get_texts()]
        for lg in [ax.get_legend(), *ax.artists]
    }
    assert legends == {"speaker": ["spk_a", "spk_b"], "": ["1", "2"]}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"embeddings": np.zeros(10)}, "embeddings"),
        ({"labels": ["a"] * 9}, "labels"),
        ({"markers": ["x"] * 3}, "markers"),
    ],
)
def test_plot_tsne_bad_inputs(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"embeddings": np.zeros((10, 3)), "labels": ["a"] * 10, "path": tmp_path / "x.png", "title": "t"}
    with pytest.raises(ValueError, match=match):
        plot_tsne(**{**args, **kwargs})


def test_plot_tsne_rejects_more_than_20_speakers(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="labels"):
        plot_tsne(np.zeros((21, 3)), [f"s{i}" for i in range(21)], tmp_path / "x.png", title="t")


def test_plot_attention_draws_each_source_with_its_weights(tmp_path: Path, drawn: list[Figure]) -> None:
    inputs = attention_inputs()
    assert_png(plot_attention(**inputs, path=tmp_path / "att.png", hop_seconds=0.016))
    (fig,) = drawn
    panels = [ax for ax in fig.axes if ax.get_images()]
    twins = [ax for ax in fig.axes if not ax.get_images()]
    assert [ax.get_ylabel() for ax in panels] == [
        "mixture\nfreq bin",
        "source 1\nfreq bin",
        "source 2\nfreq bin",
    ]
    specs = [inputs["mixture_logspec"], *inputs["source_logspecs"]]
    for ax, spec in zip(panels, specs):
        (image,) = ax.get_images()
        np.testing.assert_array_equal(image.get_array(), spec)
        assert image.get_extent() == pytest.approx((0.0, 40 * 0.016, 0, 16))
        assert image.get_clim() == (min(s.min() for s in specs), max(s.max() for s in specs))  # one scale
    t = (np.arange(40) + 0.5) * 0.016
    power = inputs["source_power"]
    assert len(twins) == 2
    for i, twin in enumerate(twins):
        lines = lines_by_label(twin)
        np.testing.assert_allclose(lines["attention"].get_xdata(), t)
        np.testing.assert_array_equal(lines["attention"].get_ydata(), inputs["attention"][i])
        contour = lines["power (normalized)"].get_ydata()
        np.testing.assert_allclose(contour, (power[i] - power[i].min()) / np.ptp(power[i]))
        assert contour.min() == 0.0 and contour.max() == 1.0


def test_plot_attention_single_source_with_flat_power(tmp_path: Path, drawn: list[Figure]) -> None:
    inputs = {**attention_inputs(n_sources=1), "source_power": np.full((1, 40), 3.0)}
    assert_png(plot_attention(**inputs, path=tmp_path / "one.png"))
    (fig,) = drawn
    assert sum(bool(ax.get_images()) for ax in fig.axes) == 2
    (twin,) = [ax for ax in fig.axes if not ax.get_images()]
    lines = lines_by_label(twin)
    np.testing.assert_array_equal(lines["attention"].get_ydata(), np.ones(40))
    np.testing.assert_array_equal(lines["power (normalized)"].get_ydata(), np.zeros(40))  # no 0/0


@pytest.mark.parametrize(
    "name,value",
    [
        ("mixture_logspec", np.zeros(40)),
        ("source_logspecs", [np.zeros((16, 39)), np.zeros((16, 40))]),
        ("source_logspecs", []),
        ("attention", np.zeros((3, 40))),
        ("attention", np.full((2, 40), 1.5)),
        ("source_power", np.zeros((2, 39))),
    ],
)
def test_plot_attention_bad_inputs(tmp_path: Path, name: str, value) -> None:
    with pytest.raises(ValueError, match=name):
        plot_attention(**{**attention_inputs(), name: value}, path=tmp_path / "x.png")


def test_plot_det_draws_metrics_points_and_eer(tmp_path: Path, drawn: list[Figure]) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], [100, 400])
    systems = {
        name: rng.normal(size=500) + shift * labels for name, shift in (("weak", 0.5), ("strong", 2.5))
    }
    curves = {name: det_points(scores, labels) for name, scores in systems.items()}
    assert_png(plot_det(curves, tmp_path / "det.png", title="two systems"))
    (fig,) = drawn
    (ax,) = fig.axes
    assert ax.get_title() == "two systems"
    lines = ax.get_lines()
    assert len(lines) == 2 * len(curves) + 1  # a curve and its EER marker per system, then the diagonal
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    rates = {}
    for k, (name, (fpr, fnr)) in enumerate(curves.items()):
        curve, marker = lines[2 * k], lines[2 * k + 1]
        np.testing.assert_allclose(norm.cdf(curve.get_xdata()), np.clip(fpr, *plots.DET_RANGE), rtol=1e-9)
        np.testing.assert_allclose(norm.cdf(curve.get_ydata()), np.clip(fnr, *plots.DET_RANGE), rtol=1e-9)
        rates[name] = eer(systems[name], labels)
        z = norm.ppf(rates[name] / 100)
        assert marker.get_xdata() == pytest.approx([z]) and marker.get_ydata() == pytest.approx([z])
        assert marker.get_color() == curve.get_color()
        assert legend[k] == f"{name} (EER {rates[name]:.2f}%)"
    assert rates["strong"] < rates["weak"] < 50.0
    diagonal = lines[-1]
    np.testing.assert_array_equal(diagonal.get_xdata(), diagonal.get_ydata())
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{p:g}" for p in plots.DET_TICKS]
    assert norm.cdf(ax.get_xlim()) == pytest.approx(plots.DET_RANGE)


@pytest.mark.parametrize(
    "curves,match",
    [
        ({}, "curves"),
        ({"a": (np.array([0.0, 1.0]), np.array([1.0, 0.5, 0.0]))}, "curves\\['a'\\]"),
        ({"a": (np.array([0.0, 2.0]), np.array([1.0, 0.0]))}, "curves\\['a'\\]"),
        ({"a": (np.zeros((2, 2)), np.zeros((2, 2)))}, "curves\\['a'\\]"),
    ],
)
def test_plot_det_bad_inputs(tmp_path: Path, curves: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plot_det(curves, tmp_path / "x.png")


def test_plot_training_curves_with_missing_column_and_empty_cells(
    tmp_path: Path, drawn: list[Figure]
) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "step,epoch,elapsed_s,train_loss,val_loss,eer\n"
        "0,0,0.0,2.5,,\n"
        "10,0,5.0,2.1,,\n"
        "20,1,10.0,1.8,1.9,30.0\n"
        "30,1,15.0,,,\n"
        "40,2,20.0,1.4,1.6,22.5\n"
    )
    out = plot_training_curves(
        log, tmp_path / "curves.png", ys=("train_loss", "val_loss", "val_pit_acc"), x2="elapsed_s"
    )
    assert_png(out)
    assert_png(plot_training_curves(log, tmp_path / "eer.png", x="epoch", ys=("eer",)))
    steps, epochs = drawn

    (ax,) = steps.axes
    lines = lines_by_label(ax)
    assert list(lines) == ["train_loss", "val_loss"]  # the missing column is skipped
    np.testing.assert_array_equal(lines["train_loss"].get_xdata(), [0, 10, 20, 40])  # empty cell at 30
    np.testing.assert_array_equal(lines["train_loss"].get_ydata(), [2.5, 2.1, 1.8, 1.4])
    np.testing.assert_array_equal(lines["val_loss"].get_xdata(), [20, 40])
    np.testing.assert_array_equal(lines["val_loss"].get_ydata(), [1.9, 1.6])
    assert ax.get_xlabel() == "step"
    (secondary,) = ax.child_axes
    assert secondary.get_xlabel() == "elapsed_s"
    assert secondary.get_xlim() == pytest.approx(np.interp(ax.get_xlim(), [0, 40], [0.0, 20.0]))

    (ax,) = epochs.axes
    (line,) = ax.get_lines()
    assert line.get_label() == "eer" and ax.get_xlabel() == "epoch" and not ax.child_axes
    np.testing.assert_array_equal(line.get_xdata(), [1, 2])
    np.testing.assert_array_equal(line.get_ydata(), [30.0, 22.5])


@pytest.mark.parametrize(
    "kwargs,match", [({"x": "time"}, "x column"), ({"ys": ("nope",)}, "ys"), ({"x2": "wall"}, "x2")]
)
def test_plot_training_curves_bad_columns(tmp_path: Path, kwargs: dict, match: str) -> None:
    log = tmp_path / "log.csv"
    log.write_text("step,train_loss\n0,1.0\n1,0.5\n")
    with pytest.raises(ValueError, match=match):
        plot_training_curves(log, tmp_path / "x.png", **kwargs)


def test_plot_eer_vs_time_sorts_points_by_time(tmp_path: Path, drawn: list[Figure]) -> None:
    curves = {"reference": [(30.0, 12.0), (10.0, 25.0), (60.0, 8.5)], "other": [(20.0, 30.0)]}
    assert_png(plot_eer_vs_time(curves, tmp_path / "eer_time.png"))
    ((ax,),) = (fig.axes for fig in drawn)
    lines = lines_by_label(ax)
    assert list(lines) == ["reference", "other"]
    np.testing.assert_array_equal(lines["reference"].get_xdata(), [10.0, 30.0, 60.0])
    np.testing.assert_array_equal(lines["reference"].get_ydata(), [25.0, 12.0, 8.5])
    np.testing.assert_array_equal(lines["other"].get_xdata(), [20.0])
    assert [line.get_marker() for line in lines.values()] == list(plots.MARKERS[:2])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("training time (min)", "EER (%)")


@pytest.mark.parametrize("curves", [{}, {"a": []}, {"a": [(1.0, 2.0, 3.0)]}, {"a": [(1.0, float("nan"))]}])
def test_plot_eer_vs_time_bad_inputs(tmp_path: Path, curves) -> None:
    with pytest.raises(ValueError, match="points|curves"):
        plot_eer_vs_time(curves, tmp_path / "x.png")


def test_plot_sweep(tmp_path: Path, drawn: list[Figure]) -> None:
    systems = {"mirnet": [30.0, 22.0, 15.0], "resemblyzer": [40.0, 28.0, 20.0]}
    assert_png(plot_sweep([-5, 0, 5], systems, tmp_path / "sweep.png", "SIR (dB)"))
    ((ax,),) = (fig.axes for fig in drawn)
    lines = lines_by_label(ax)
    assert list(lines) == list(systems)
    for name, ys in systems.items():
        np.testing.assert_array_equal(lines[name].get_xdata(), [-5, 0, 5])
        np.testing.assert_array_equal(lines[name].get_ydata(), ys)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-5", "0", "5"]
    assert ax.get_ylim()[0] == 0 and ax.get_xlabel() == "SIR (dB)"


@pytest.mark.parametrize(
    "curves, match",
    [({}, "empty"), ({"a": [1.0, 2.0]}, "2 values for 3 settings"), ({"a": [1.0, np.nan, 2.0]}, "NaN")],
)
def test_plot_sweep_bad_inputs(tmp_path: Path, curves: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plot_sweep([1, 2, 3], curves, tmp_path / "x.png", "crop (s)")


def test_plot_spectrogram_grid_shows_each_tone_on_one_scale(tmp_path: Path, drawn: list[Figure]) -> None:
    t = np.arange(4000) / 16000
    low, high = np.sin(2 * np.pi * 1000 * t), 0.1 * np.sin(2 * np.pi * 3000 * t)
    rows = {"mixture": [low + high, None], "separated": [low, high]}
    out = plot_spectrogram_grid(rows, ["first", "second"], tmp_path / "grid.png", title="tones")
    assert_png(out)
    (fig,) = drawn
    assert fig.get_suptitle() == "tones"
    panels = [ax for ax in fig.axes if ax.get_title() or ax.get_ylabel() or ax.get_images()]
    (colorbar,) = [ax for ax in fig.axes if ax.get_ylabel() == "dB"]
    mixture, empty, sep_low, sep_high = [ax for ax in panels if ax is not colorbar]
    assert (mixture.get_title(), empty.get_title()) == ("first", "second")
    assert not empty.axison and not empty.get_images()
    assert sep_low.get_ylabel() == "separated\nkHz" and sep_high.get_ylabel() == ""
    images = {
        name: ax.get_images()[0] for name, ax in (("mix", mixture), ("low", sep_low), ("high", sep_high))
    }
    top = max(image.get_array().max() for image in images.values())
    for name, image in images.items():
        assert image.get_clim() == (top - 80.0, top)  # one colour scale, 80 dB deep
        spec = np.asarray(image.get_array())
        assert spec.shape[0] == 257  # 512-point STFT
        peak_khz = (spec.mean(axis=1).argmax() + 0.5) * image.get_extent()[3] / spec.shape[0]
        assert peak_khz == pytest.approx(3.0 if name == "high" else 1.0, abs=0.1)
    assert images["high"].get_array().max() < images["low"].get_array().max() - 15  # -20 dB tone


@pytest.mark.parametrize(
    "rows,match",
    [
        ({}, "rows is empty"),
        ({"a": [np.zeros(100)]}, "1 panels for 2 columns"),
        ({"a": [None, None]}, "no waveform"),
        ({"a": [np.zeros(100), np.zeros(90)]}, "different lengths"),
    ],
)
def test_plot_spectrogram_grid_bad_inputs(tmp_path: Path, rows: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plot_spectrogram_grid(rows, ["x", "y"], tmp_path / "x.png")
