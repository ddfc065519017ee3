"""The audio boundary: every kind of bad input gets a one-line error naming the file, and a file is
read a block at a time to the samples of reading it whole."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import mirnet.audio
from mirnet.audio import (
    MAX_CHANNEL_RATE,
    SAMPLE_RATE,
    AudioError,
    Header,
    _ratio,
    _resample_blocks,
    audio_info,
    check_audio,
    check_waveform,
    load_audio,
    read_audio,
    read_header,
    resample,
    save_audio,
    to_mono_16k,
)


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


def test_windows_and_crops_of_a_file_are_converted_without_a_line_each(tmp_path, caplog):
    """A diarized hour at 44.1 kHz is thousands of windows: a line each filled a server's log
    (and stalled it on a pipe nobody read)."""
    path = tmp_path / "stereo44.wav"
    sf.write(path, tone(sr=44100, channels=2), 44100)
    with caplog.at_level(logging.INFO, logger="mirnet.audio"):
        read_audio(path, start=100, frames=4410)
        load_audio(path, start=100, frames=4410)
    assert caplog.text == ""


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
    """``check_audio`` (a file checked as a whole, then read in windows) refuses the same."""
    path = make(tmp_path)
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(path) in str(err.value) and reason in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(AudioError) as again:
        check_audio(path)
    assert str(again.value) == str(err.value)


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


def test_read_audio_reads_without_the_checks_load_audio_makes(tmp_path):
    """The windows of a file that passed ``check_audio``: a silent one is a pause, not an error."""
    assert np.array_equal(read_audio(_silent(tmp_path)), np.zeros(SAMPLE_RATE, np.float32))
    path = save_audio(tmp_path / "tone.flac", np.r_[np.zeros(SAMPLE_RATE), tone()])
    assert check_audio(path) == Header(2 * SAMPLE_RATE, SAMPLE_RATE, 1)
    assert not read_audio(path, frames=SAMPLE_RATE).any()


def test_the_header_says_frames_rate_and_channels(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, tone(sr=44100, channels=2), 44100)
    header = read_header(path)
    assert (header.frames, header.sample_rate, header.channels) == (44100, 44100, 2)
    assert audio_info(path) == (44100, 44100)


@pytest.mark.parametrize(
    "channels, rate, refused", [(32, 48000, False), (33, 48000, True), (4, 384000, False), (5, 384000, True)]
)
def test_channels_times_rate_is_bounded_from_the_header(tmp_path, channels, rate, refused):
    """Decoding costs channels x rate samples per second of audio: up to 32 channels at 48 kHz."""
    path = tmp_path / f"{channels}x{rate}.wav"
    sf.write(path, np.zeros((10, channels), np.float32), rate)
    if not refused:
        assert read_header(path) == Header(10, rate, channels)
        return
    reason = f"{channels} channels at {rate} Hz: {channels * rate} samples per second to decode"
    for read in (read_header, audio_info, load_audio):
        with pytest.raises(AudioError) as err:
            read(path)
        assert str(err.value) == f"{path}: {reason}, the limit is {MAX_CHANNEL_RATE}"


def _pieces(wav: np.ndarray, sizes) -> list[np.ndarray]:
    bounds = np.cumsum([0, *sizes])
    return [wav[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if a < len(wav)] + [wav[bounds[-1] :]]


@pytest.mark.parametrize("rate", [44100, 48000, 8000, 22050, 7999, 384000])
@pytest.mark.parametrize("block", [1000, 4410, 65536, "ragged"])
def test_resampling_in_blocks_is_bit_identical_to_resampling_the_whole(rate, block):
    """Blocks aligned on the ratio's ``down`` input samples, each with the filter's reach of input
    on both sides, give the very samples of resampling the whole (so a long file is read in
    blocks to the samples it gave read at once); ragged pieces, empty ones included, too."""
    rng = np.random.default_rng(rate)
    wav = rng.standard_normal(2 * rate + 17).astype(np.float32)
    sizes = rng.integers(0, 3000, len(wav) // 1000) if block == "ragged" else [block] * (len(wav) // block)
    up, down = _ratio(rate)
    whole = resample(wav, up, down)
    got = np.concatenate(list(_resample_blocks(_pieces(wav, sizes), up, down)))
    assert got.dtype == np.float32 and np.array_equal(got, whole)


def test_nan_spreads_as_far_in_blocks_as_in_the_whole():
    """Every product of the filter's window is summed, the zero taps' too, as scipy sums them:
    a NaN reaches the same outputs, so check_waveform counts the same NaN samples."""
    wav = np.random.default_rng(0).standard_normal(44100).astype(np.float32)
    wav[[5000, 20000]] = np.nan, np.inf
    got = np.concatenate(list(_resample_blocks(_pieces(wav, [1500] * 29), 160, 441)))
    assert np.array_equal(got, resample(wav, 160, 441), equal_nan=True) and np.isnan(got).sum() > 2


@pytest.mark.parametrize("rate, channels", [(44100, 2), (48000, 8), (16000, 3), (8000, 1)])
def test_a_file_read_in_many_blocks_gives_the_samples_of_reading_it_whole(
    tmp_path, monkeypatch, rate, channels
):
    """``load_audio`` decodes, downmixes and resamples BLOCK_SAMPLES (frames x channels) at a
    time; the samples are those of decoding the file at once (sf.read) and converting the whole
    (to_mono_16k), crops included."""
    path = tmp_path / "x.flac"
    noise = 0.1 * np.random.default_rng(channels).standard_normal((5 * rate // 2, channels))
    sf.write(path, noise, rate, subtype="PCM_24")

    def whole(start, frames):
        wav, sr = sf.read(path, start=start, frames=frames, dtype="float32")
        return to_mono_16k(wav, sr)

    crops = [(0, -1), (rate // 3, rate), (2 * rate, -1), (2 * rate, rate), (7, 5)]
    expected = [whole(*crop) for crop in crops]
    for block in (mirnet.audio.BLOCK_SAMPLES, 3000):  # the file in one block, then in many
        monkeypatch.setattr(mirnet.audio, "BLOCK_SAMPLES", block)
        for (start, frames), want in zip(crops, expected):
            assert np.array_equal(load_audio(path, start=start, frames=frames), want)


def test_long_waveforms_are_checked_a_chunk_at_a_time():
    wav = np.full(5 * 2**19, 0.1, np.float32)
    wav[-1] = np.nan
    with pytest.raises(AudioError, match="<array>: 1 NaN/Inf samples"):
        check_waveform(wav)
    wav[-1] = 0.1
    assert check_waveform(wav) is wav
