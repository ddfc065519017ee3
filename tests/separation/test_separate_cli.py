"""`mirnet separate`: a mixture in, one WAV per speaker and a JSON out; bad input refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from mirnet.architectures import build_model
from mirnet.checkpoint import model_bundle, save_atomic
from mirnet.cli import main

from ..conftest import REPO


@pytest.fixture
def halving_separator(tmp_path):
    """A uPIT separator whose two masks are 0.5 everywhere (last layer zero, sigmoid(0)): each
    output is half the mixture, so the outputs must sum to the mixture through every step."""
    args = {"n_outputs": 2, "lstm_hidden": 8, "lstm_layers": 1, "fc_dim": 8}
    model = build_model("mask_separator", **args)
    with torch.no_grad():
        model.fc[-1].weight.zero_()
        model.fc[-1].bias.zero_()
    save_atomic(model_bundle(model, []), tmp_path / "sep" / "model.pt")
    return tmp_path / "sep"


def test_separate_writes_a_wav_per_speaker_that_sum_to_the_mixture(halving_separator, tmp_path, capsys):
    rng = np.random.default_rng(0)
    mixture = (0.1 * rng.standard_normal(16000 * 14)).astype(np.float32)  # 14 s: three chunks of 6 s
    sf.write(tmp_path / "mix.wav", mixture, 16000)
    assert (
        main(
            [
                "-q",
                "separate",
                str(halving_separator),
                str(tmp_path / "mix.wav"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    files = sorted((tmp_path / "out").glob("mix.speaker*.wav"))
    assert [f.name for f in files] == ["mix.speaker1.wav", "mix.speaker2.wav"]
    total = sum(sf.read(f, dtype="float32")[0] for f in files)
    assert np.abs(total - mixture).max() < 2e-4  # two 16-bit roundings
    meta = json.loads((tmp_path / "out" / "mix.json").read_text())
    assert meta["conditioning"] == "independent" and [o["file"] for o in meta["outputs"]] == [
        f.name for f in files
    ]
    assert capsys.readouterr().out.split() == [str(f) for f in files]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: sf.write(p, np.zeros(16000, np.float32), 16000), "silent"),
        (lambda p: sf.write(p, np.full(200, 0.1, np.float32), 16000), "too short"),
        (lambda p: p.write_bytes(b"RIFF garbage"), "unreadable audio"),
        (
            lambda p: sf.write(p, np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT"),
            "NaN/Inf samples",
        ),
    ],
)
def test_bad_mixtures_get_one_line_naming_the_file(make, message, halving_separator, tmp_path, capsys):
    make(tmp_path / "bad.wav")
    assert (
        main(["-q", "separate", str(halving_separator), str(tmp_path / "bad.wav"), "--out", str(tmp_path)])
        == 2
    )
    err = capsys.readouterr().err
    assert (
        err.startswith(f"mirnet: error: {tmp_path / 'bad.wav'}: ") and message in err and err.count("\n") == 1
    )


def test_each_verb_refuses_the_other_kind_in_one_line(halving_separator, tmp_path, capsys):
    sf.write(
        tmp_path / "mix.wav",
        (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32),
        16000,
    )
    teacher = REPO / "models" / "mirnet" / "teacher"
    assert (
        main(["-q", "separate", str(teacher), str(tmp_path / "mix.wav"), "--out", str(tmp_path / "o")]) == 2
    )
    assert (
        "this is an embedder (single), not a separator; use mirnet.load / mirnet embed"
        in capsys.readouterr().err
    )
    assert main(["-q", "embed", str(halving_separator), str(tmp_path / "mix.wav")]) == 2
    err = capsys.readouterr().err
    assert "this is a separator (mask_separator), not an embedder" in err and err.count("\n") == 1
    assert (
        main(
            [
                "-q",
                "separate",
                str(halving_separator),
                str(tmp_path / "mix.wav"),
                "--out",
                str(tmp_path / "o"),
                "--enroll",
                str(tmp_path / "mix.wav"),
            ]
        )
        == 2
    )
    assert "takes no enrollment recordings (it is speaker-independent)" in capsys.readouterr().err


def test_tracks_are_written_at_the_inputs_rate_with_a_bar_over_the_chunks(
    halving_separator, tmp_path, capsys
):
    """A 48-kHz input gets 48-kHz tracks that still sum to it (the halving separator), unless
    --sample-rate says otherwise; a file of several chunks shows a bar."""
    t = np.arange(48000 * 14) / 48000
    mixture = (0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    sf.write(tmp_path / "mix48.wav", mixture, 48000)
    argv = ["separate", str(halving_separator), str(tmp_path / "mix48.wav")]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "separating" in err and "0/3 " in err and "chunk" in err, err[-300:]  # 14 s: 3 chunks
    tracks = [sf.read(tmp_path / "a" / f"mix48.speaker{k}.wav", dtype="float32") for k in (1, 2)]
    assert {rate for _, rate in tracks} == {48000}
    assert json.loads((tmp_path / "a" / "mix48.json").read_text())["sample_rate"] == 48000
    total = tracks[0][0] + tracks[1][0]
    assert len(total) == len(mixture) and np.abs(total - mixture)[1000:-1000].max() < 0.01  # in band: kept
    assert main(["-q", *argv, "--out", str(tmp_path / "b"), "--sample-rate", "16000"]) == 0
    assert sf.info(str(tmp_path / "b" / "mix48.speaker1.wav")).samplerate == 16000
