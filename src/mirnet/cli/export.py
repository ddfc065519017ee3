"""``mirnet export``: a model as an ONNX or TorchScript graph, checked against PyTorch."""

from __future__ import annotations

from .common import MODEL_HELP


def add_export(sub) -> None:
    s = sub.add_parser(
        "export", help="ONNX or TorchScript graph: waveforms (B, samples) at 16 kHz -> (B, N, D)"
    )
    s.add_argument("exp", help=MODEL_HELP)
    s.add_argument("--format", required=True, help="onnx or torchscript (a bad one: one line naming both)")
    s.add_argument("--out", help="output file (default: beside the model file, .onnx or .torchscript.pt)")
    s.set_defaults(func=_export)


def _export(a):
    from ..audio import SAMPLE_RATE
    from ..export import CHECKS, TOLERANCE, export_model

    out, diff = export_model(a.exp, a.format, a.out)
    checked = ", ".join(f"{b}x{n / SAMPLE_RATE:.2f} s" for b, n in CHECKS)
    print(
        f"{out}: max abs difference from PyTorch {diff:.2e} (<= {TOLERANCE:g}) on random mixtures of {checked}"
    )
