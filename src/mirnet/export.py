"""Export a trained model as one self-contained graph, waveform (B, samples) at 16 kHz ->
embeddings (B, N, D), so it can be served without mirnet or Python: ONNX (onnxruntime) or
TorchScript (libtorch). Batch and length are dynamic axes; the STFT stays inside the graph.

An export is only kept once the written file, run by its own runtime, matches PyTorch on
random mixtures of several batch sizes and lengths: exporters can silently specialise a shape
or translate an operator differently, and a wrong graph would otherwise only show in use.

Exporter choice for torch 2.13: the TorchScript-based ONNX exporter (``dynamo=False``) cannot
translate the complex ``torch.stft``; the ``torch.export``-based one (``dynamo=True``, needs
onnxscript) maps it to ONNX's STFT operator, and onnxruntime's embeddings match torch's to
float32 rounding (docs/export.md gives the difference measured on the reference model).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.signal import lfilter
from torch import nn

from .atomic import atomic_path
from .audio import SAMPLE_RATE
from .checkpoint import load_model, model_fingerprint, resolve
from .errors import MirnetError, MissingDependency

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
TOLERANCE = 1e-4  # max abs difference from PyTorch, on embeddings
FINGERPRINT_KEY = "mirnet_model_sha1"  # the ONNX metadata that names the model file exported
CHECKS = ((1, 16000), (2, 12345), (4, 48000))  # (batch, samples); 12345 is no whole number of hops
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


class ExportError(MirnetError, ValueError):
    pass


class EmbeddingGraph(nn.Module):
    """The model with the embeddings as its only output: exporters take tensors, not ModelOutput."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.eval()

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model(wav).embeddings


def random_mixtures(batch: int, samples: int, n_speakers: int, rng: np.random.Generator) -> np.ndarray:
    """(batch, samples) float32 sums of ``n_speakers`` noise sources, each with its own spectral
    tilt (a random one-pole filter) and level, scaled to RMS 0.1: mixture-like input on which
    every frequency bin and every stream carries signal."""
    wav = np.zeros((batch, samples))
    for row in wav:
        for _ in range(n_speakers):
            source = lfilter([1.0], [1.0, -rng.uniform(-0.9, 0.95)], rng.standard_normal(samples))
            row += source / source.std() * 10 ** (rng.uniform(-5, 5) / 20)
    return (0.1 * wav / wav.std(axis=1, keepdims=True)).astype(np.float32)


def _require_onnx() -> None:
    for name in ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingDependency(
                f"ONNX export needs {', '.join(ONNX_PACKAGES)}: pip install 'mirnet[export]'"
            ) from None


@contextlib.contextmanager
def _quiet_exporters():
    """Keep the exporters' internals off the user's terminal: deprecation notes about torch's own
    code (torch.jit included: deprecated in torch 2.13, yet what libtorch loads), trace warnings
    about the model's shape checks, which are constants (the check after export would catch one
    that was not), and the INFO logs of onnxscript's optimiser passes."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def _write_onnx(graph: EmbeddingGraph, example: torch.Tensor, path: Path, fingerprint: str) -> None:
    """``fingerprint``, the model file's, goes into the graph's metadata: ``onnx_embedder`` runs
    an export only for the very model file it came from."""
    _require_onnx()
    min_samples = graph.model.features.n_fft // 2 + 1  # the STFT's reflect padding needs more than n_fft/2
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("samples", min=min_samples)}
    program = torch.onnx.export(
        graph,
        (example,),
        dynamo=True,
        verbose=False,
        dynamic_shapes=(dims,),
        input_names=["waveform"],
        output_names=["embeddings"],
    )
    program.save(str(path), external_data=False)
    import onnx

    saved = onnx.load(str(path))
    onnx.helper.set_model_props(saved, {FINGERPRINT_KEY: fingerprint})
    onnx.save(saved, str(path))


def _write_torchscript(graph: EmbeddingGraph, example: torch.Tensor, path: Path, fingerprint: str) -> None:
    """Tracing records sizes as graph operations, so batch and length stay free. Its own check
    (re-tracing on the same input) is skipped: it costs more than the export and proves less than
    the check of the saved file at other shapes that follows. ``fingerprint`` as ``_write_onnx``'s,
    as an extra file."""
    traced = torch.jit.trace(graph, example, check_trace=False)
    torch.jit.save(traced, str(path), _extra_files={FINGERPRINT_KEY: fingerprint})


def _onnx_session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # as many as torch may use, not one per core
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_exported(path: Path, fmt: str):
    """The written file, loaded by its own runtime, as a function numpy (B, samples) -> (B, N, D)."""
    if fmt == "onnx":
        session = _onnx_session(path)
        return lambda wav: session.run(None, {"waveform": wav})[0]
    module = torch.jit.load(str(path), map_location="cpu")
    return lambda wav: module(torch.from_numpy(wav)).numpy()


def onnx_embedder(exp: str | Path, fingerprint: str):
    """The ONNX export beside ``exp``'s model file (``mirnet export EXP --format onnx``) in ONNX
    Runtime, as a function torch (B, samples) -> (B, N, D); refused in one line when missing, or
    when exported from another model file than the one whose SHA-1 is ``fingerprint``."""
    path = resolve(exp).with_suffix(FORMATS["onnx"])
    again = f"mirnet export {exp} --format onnx"
    if not path.exists():
        raise ExportError(f"{path}: no ONNX export of this model; write it with {again}")
    _require_onnx()
    session = _onnx_session(path)
    exported = session.get_modelmeta().custom_metadata_map.get(FINGERPRINT_KEY)
    if exported != fingerprint:
        origin = f"model {exported}" if exported else "an unrecorded model"
        raise ExportError(
            f"{path}: exported from {origin}, this model is {fingerprint}; export again with {again}"
        )
    return lambda wav: torch.from_numpy(session.run(None, {"waveform": wav.numpy()})[0])


@torch.inference_mode()
def max_difference(graph: EmbeddingGraph, path: Path, fmt: str, seed: int = 0) -> float:
    """Max abs difference between the exported file and PyTorch over the CHECKS mixtures."""
    run, rng = load_exported(path, fmt), np.random.default_rng(seed)
    n_speakers = getattr(graph.model, "n_speakers", 1)
    worst = 0.0
    for batch, samples in CHECKS:
        wav = random_mixtures(batch, samples, n_speakers, rng)
        got, want = run(wav), graph(torch.from_numpy(wav)).numpy()
        if got.shape != want.shape:
            raise ExportError(
                f"{fmt} export gives shape {got.shape} for input {wav.shape}, PyTorch {want.shape}"
            )
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


def export_model(
    exp: str | Path, fmt: str, out: str | Path | None = None, seed: int = 0
) -> tuple[Path, float]:
    """Export EXP (experiment dir or model file) to ``out`` (default: beside the model file) and
    return (path, max abs difference from PyTorch). The file is written under a temporary name
    and only renamed into place once it passes the check, so a failed export leaves nothing."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    model, _ = load_model(exp)
    graph = EmbeddingGraph(model)
    out = Path(out) if out else resolve(exp).with_suffix(FORMATS[fmt])
    example = torch.from_numpy(random_mixtures(2, SAMPLE_RATE, 1, np.random.default_rng(seed)))
    try:
        with atomic_path(out) as tmp:
            with _quiet_exporters():
                (_write_onnx if fmt == "onnx" else _write_torchscript)(
                    graph, example, tmp, model_fingerprint(exp)
                )
                diff = max_difference(graph, tmp, fmt, seed)
            if not diff <= TOLERANCE:
                raise ExportError(f"{fmt} export differs from PyTorch by {diff:.2e} (> {TOLERANCE:g})")
    except ExportError as exc:
        raise ExportError(f"{out}: {exc}; not written") from None
    return out, diff
