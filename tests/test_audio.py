"""The audio boundary: every kind of bad input gets a one-line error naming the file."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from mirnet.audio import SAMPLE_RATE, AudioError, check_waveform, load_audio, resample, save_audio


def tone(seconds=1.0, sr=SAMPLE_RATE, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    wav = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.stack([wav] * channels, axis=1) if channels > 1 else wav


def test_reads_a_real_corpus_file(corpus):
    path = next((corpus / "seen").rglob("*.flac"))
    wav = load_audio(path)
    assert wav.dtype == np.float32 and wav.ndim == 1 and 3 * SAMPLE_RATE <= len(wav) <= 6 * SAMPLE_RATE


@pytest.mark.parametrize("up, down", [(10, 9), (10, 11), (20, 17), (20, 23), (160, 441), (1, 3), (2, 1)])
def test_resample_is_bit_identical_to_scipy_resample_poly(up, down):
    """Its filter is designed once per ratio instead of per call; nothing else may change (speed
    perturbation 0.85-1.15 and 44.1/48 kHz files go through it)."""
    wav = np.random.default_rng(up * 1000 + down).standard_normal(SAMPLE_RATE).astype(np.float32)
    for _ in range(2):  # the second call runs on the cached filter
        got = resample(wav, up, down)
        assert got.dtype == np.float32 and np.array_equal(
            got, resample_poly(wav, up, down).astype(np.float32)
        )


@pytest.mark.parametrize("sr", [8000, 22050, 44100])
def test_other_rates_are_resampled_and_logged(tmp_path, caplog, sr):
    path = tmp_path / f"tone{sr}.wav"
    sf.write(path, tone(sr=sr), sr)
    with caplog.at_level(logging.INFO, logger="mirnet.audio"):
        wav = load_audio(path)
    assert abs(len(wav) - SAMPLE_RATE) <= 1
    assert f"resampling {sr} Hz -> 16000 Hz" in caplog.text and str(path) in caplog.text


def test_stereo_is_downmixed_and_logged(tmp_path, caplog):
    path = tmp_path / "stereo.flac"
    sf.write(path, tone(channels=2), SAMPLE_RATE)
    with caplog.at_level(logging.INFO, logger="mirnet.audio"):
        wav = load_audio(path)
    assert wav.ndim == 1 and "downmixing 2 channels" in caplog.text


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.flac"
    path.write_bytes(b"fLaC" + np.random.default_rng(0).bytes(2000))
    return path


def _truncated(tmp_path):
    good = tmp_path / "good.flac"
    sf.write(good, tone(2.0), SAMPLE_RATE)
    path = tmp_path / "truncated.flac"
    path.write_bytes(good.read_bytes()[:60])
    return path


def _empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    return path


def _zero_samples(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    return path


def _silent(tmp_path):
    path = tmp_path / "silent.flac"
    sf.write(path, np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    return path


def _nan(tmp_path):
    path = tmp_path / "nan.wav"
    wav = tone()
    wav[100] = np.nan
    sf.write(path, wav, SAMPLE_RATE, subtype="FLOAT")
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (_corrupt, "unreadable audio"),
        (_truncated, "unreadable audio"),
        (_empty_file, "unreadable audio"),
        (_zero_samples, "empty audio"),
        (_silent, "silent"),
        (_nan, "NaN/Inf"),
    ],
)
def test_bad_files_raise_one_line_errors_naming_the_file(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value) and reason in str(err.value) and "\n" not in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(AudioError, match="nope.flac"):
        load_audio(tmp_path / "nope.flac")


def test_too_short_is_rejected_with_the_durations(tmp_path):
    path = save_audio(tmp_path / "short.flac", tone(0.2))
    with pytest.raises(AudioError, match=r"too short: 0.20 s < 0.50 s"):
        load_audio(path, min_seconds=0.5)


@pytest.mark.parametrize(
    "bad, reason",
    [
        (np.zeros((2, 100), np.float32), "mono waveform"),
        (np.array([], np.float32), "empty"),
        (np.array([1, 2, 3], np.int16), "float samples"),
        (np.array([np.inf, 0.1], np.float32), "NaN/Inf"),
    ],
)
def test_arrays_are_checked_too(bad, reason):
    with pytest.raises(AudioError, match=reason):
        check_waveform(bad, "input")


def test_save_is_atomic_and_round_trips(tmp_path):
    path = save_audio(tmp_path / "sub" / "x.flac", tone())
    assert not list(path.parent.glob(".*tmp")) and np.allclose(load_audio(path), tone(), atol=1e-4)
