"""mirnet export: the written file, run by its own runtime (onnxruntime, libtorch's loader),
computes the PyTorch model's embeddings for any batch size and length; a bad format, an
unreadable checkpoint or an export that does not match is a one-line CLI error."""

from __future__ import annotations

import sys

import numpy as np
import onnxruntime
import pytest
import torch

import mirnet
from mirnet import export
from mirnet.architectures import build_model
from mirnet.checkpoint import load_model, model_bundle, model_fingerprint, save_atomic
from mirnet.cli import main
from mirnet.errors import InputError

from .conftest import TINY_MODEL

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")


def tiny_exp(tmp_path, n_speakers: int):
    """An untrained tiny MIRNet saved as an experiment, with random BatchNorm statistics and
    affine parameters: an exporter that dropped BatchNorm or ran it in training mode would show."""
    torch.manual_seed(n_speakers)
    model = build_model("mirnet", n_speakers=n_speakers, **TINY_MODEL)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    exp = tmp_path / f"exp{n_speakers}"
    save_atomic(model_bundle(model.eval(), []), exp / "model.pt")
    return exp


@pytest.fixture(autouse=True)
def one_thread():
    """One thread for torch and onnxruntime: on a shared 2-core machine, idle threads spinning
    on a busy core cost 10x the time of the tiny models' work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_export(path, fmt):
    if fmt == "onnx":
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        assert [i.shape for i in session.get_inputs()] == [["batch", "samples"]]
        return lambda wav: session.run(["embeddings"], {"waveform": wav})[0]
    module = torch.jit.load(str(path))
    return lambda wav: module(torch.from_numpy(wav)).detach().numpy()


@pytest.mark.slow
@pytest.mark.parametrize("n_speakers", [2, 3])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_matches_pytorch_for_any_batch_and_length(tmp_path, capsys, fmt, n_speakers):
    exp = tiny_exp(tmp_path, n_speakers)
    out = tmp_path / f"tiny.{fmt}"
    assert main(["export", str(exp), "--format", fmt, "--out", str(out)]) == 0
    assert f"{out}: max abs difference from PyTorch" in capsys.readouterr().out
    model, _ = load_model(exp)
    run, rng = load_export(out, fmt), np.random.default_rng(1)
    for batch in (1, 3):
        for seconds in (1, 3):
            wav = export.random_mixtures(batch, seconds * 16000, n_speakers, rng)
            with torch.no_grad():
                want = model(torch.from_numpy(wav)).embeddings.numpy()
            got = run(wav)
            assert got.shape == (batch, n_speakers, 32) and want.std() > 0.1
            assert np.abs(got - want).max() <= 1e-4, (batch, seconds)


def test_default_output_sits_beside_the_model_and_a_mismatch_writes_nothing(tmp_path, monkeypatch, capsys):
    exp = tiny_exp(tmp_path, 2)
    assert main(["export", str(exp), "--format", "torchscript"]) == 0
    assert (exp / "model.torchscript.pt").is_file()

    real = export.load_exported

    def off_runner(path, fmt):
        run = real(path, fmt)
        return lambda wav: run(wav) + 1e-3

    monkeypatch.setattr(export, "load_exported", off_runner)
    out = tmp_path / "off.pt"
    assert main(["export", str(exp), "--format", "torchscript", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith(f"mirnet: error: {out}: torchscript export differs from PyTorch by 1.0")
        and "\n" not in err
    )
    assert not out.exists() and not list(tmp_path.glob(".off.pt*"))


def test_bad_format_unreadable_checkpoint_and_missing_packages_are_one_line_errors(
    tmp_path, capsys, monkeypatch
):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    exp = tiny_exp(tmp_path, 2)
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if the export extra were not installed
    for argv, message in [
        ([str(exp), "--format", "tflite"], "unknown export format 'tflite'; choose one of onnx, torchscript"),
        ([str(bad), "--format", "onnx"], f"{bad}: unreadable checkpoint"),
        ([str(tmp_path / "nothing"), "--format", "onnx"], "no such checkpoint"),
        ([str(exp), "--format", "onnx"], "pip install 'mirnet[export]'"),
    ]:
        assert main(["export", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("mirnet: error: ") and message in err and "\n" not in err, argv


@pytest.mark.slow
def test_the_onnx_runtime_embeds_as_torch_does_and_only_for_the_model_it_was_exported_from(
    tmp_path, corpus, capsys
):
    """``mirnet.load(EXP, runtime="onnx")`` and ``mirnet embed --runtime onnx`` run the export
    beside the model file: the torch embeddings of a real utterance to 1e-4. A missing export,
    an export of another model file, and bf16 are each refused in one line."""
    exp = tiny_exp(tmp_path, 2)
    audio = next((corpus / "seen").rglob("*.flac"))
    assert main(["embed", str(exp), str(audio), "--runtime", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{exp / 'model.onnx'}: no ONNX export of this model; write it with mirnet export {exp}" in err
    assert "\n" not in err
    assert main(["export", str(exp), "--format", "onnx"]) == 0
    want = mirnet.load(exp, "fp32").embed_file(audio).numpy()
    onnx_model = mirnet.load(exp, runtime="onnx")
    got = onnx_model.embed_file(audio).numpy()
    assert onnx_model.precision == "fp32" and got.shape == want.shape == (2, 32) and want.std() > 0.1
    assert np.abs(got - want).max() <= 1e-4
    out = tmp_path / "emb.npy"
    assert main(["-q", "embed", str(exp), str(audio), "--runtime", "onnx", "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), got)

    with pytest.raises(InputError, match="precision bf16 runs in torch only"):
        mirnet.load(exp, "bf16", runtime="onnx")
    exported = model_fingerprint(exp)
    torch.manual_seed(9)  # the model file is trained on (here: replaced) after its export
    save_atomic(model_bundle(build_model("mirnet", n_speakers=2, **TINY_MODEL).eval(), []), exp / "model.pt")
    assert main(["embed", str(exp), str(audio), "--runtime", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        f"exported from model {exported}, this model is {model_fingerprint(exp)}" in err and "\n" not in err
    )
