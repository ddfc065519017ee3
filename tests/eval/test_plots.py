"""Each plot writes a readable PNG from small synthetic inputs; wrong shapes fail naming the argument."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from mirnet.eval.metrics import det_points
from mirnet.eval.plots import (
    plot_attention,
    plot_det,
    plot_eer_vs_time,
    plot_sweep,
    plot_training_curves,
    plot_tsne,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0


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
def test_plot_tsne_two_clusters(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    emb = np.concatenate([rng.normal(0.0, 0.1, (12, 8)), rng.normal(5.0, 0.1, (12, 8))])
    labels = ["spk_a"] * 12 + ["spk_b"] * 12
    out = plot_tsne(emb, labels, tmp_path / "sub" / "tsne.png", title="two speakers", markers=["1", "2"] * 12)
    assert out == tmp_path / "sub" / "tsne.png"
    assert_png(out)
    assert_png(plot_tsne(emb, labels, tmp_path / "plain.png", title="no markers"))


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


def test_plot_attention(tmp_path: Path) -> None:
    assert_png(plot_attention(**attention_inputs(), path=tmp_path / "att.png", hop_seconds=0.016))
    assert_png(plot_attention(**attention_inputs(n_sources=1), path=tmp_path / "one.png"))


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


def test_plot_det(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], [100, 400])
    curves = {
        name: det_points(rng.normal(size=500) + shift * labels, labels)
        for name, shift in (("weak", 0.5), ("strong", 2.5))
    }
    assert_png(plot_det(curves, tmp_path / "det.png", title="two systems"))


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


def test_plot_training_curves_with_missing_column_and_empty_cells(tmp_path: Path) -> None:
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


@pytest.mark.parametrize(
    "kwargs,match", [({"x": "time"}, "x column"), ({"ys": ("nope",)}, "ys"), ({"x2": "wall"}, "x2")]
)
def test_plot_training_curves_bad_columns(tmp_path: Path, kwargs: dict, match: str) -> None:
    log = tmp_path / "log.csv"
    log.write_text("step,train_loss\n0,1.0\n1,0.5\n")
    with pytest.raises(ValueError, match=match):
        plot_training_curves(log, tmp_path / "x.png", **kwargs)


def test_plot_eer_vs_time(tmp_path: Path) -> None:
    curves = {"reference": [(30.0, 12.0), (10.0, 25.0), (60.0, 8.5)], "other": [(20.0, 30.0)]}
    assert_png(plot_eer_vs_time(curves, tmp_path / "eer_time.png"))


@pytest.mark.parametrize("curves", [{}, {"a": []}, {"a": [(1.0, 2.0, 3.0)]}, {"a": [(1.0, float("nan"))]}])
def test_plot_eer_vs_time_bad_inputs(tmp_path: Path, curves) -> None:
    with pytest.raises(ValueError, match="points|curves"):
        plot_eer_vs_time(curves, tmp_path / "x.png")


def test_plot_sweep(tmp_path: Path) -> None:
    path = plot_sweep(
        [-5, 0, 5],
        {"mirnet": [30.0, 22.0, 15.0], "resemblyzer": [40.0, 28.0, 20.0]},
        tmp_path / "sweep.png",
        "SIR (dB)",
    )
    assert_png(path)


@pytest.mark.parametrize(
    "curves, match",
    [({}, "empty"), ({"a": [1.0, 2.0]}, "2 values for 3 settings"), ({"a": [1.0, np.nan, 2.0]}, "NaN")],
)
def test_plot_sweep_bad_inputs(tmp_path: Path, curves: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plot_sweep([1, 2, 3], curves, tmp_path / "x.png", "crop (s)")
