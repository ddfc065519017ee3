"""Fuzzing the doors audio comes in by: ``load_audio`` on arbitrary files, ``Embedder.embed`` on
arbitrary arrays and the ``mirnet embed`` command on arbitrary files. Whatever comes in, out comes
a usable waveform (finite embeddings) or an AudioError in one line, naming the file for files
(exit status 2 from the command); never another exception.

Derandomized (the same examples every run) and bounded so the file runs in seconds.
``--hypothesis-show-statistics`` shows how the examples split between success and each error.
The crashes the fuzzing found are pinned as plain tests at the end.
"""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mirnet.api import Embedder
from mirnet.architectures import build_model
from mirnet.audio import SAMPLE_RATE, SILENCE_RMS, AudioError, check_waveform, load_audio, to_mono_16k

from .conftest import TINY_MODEL

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Lists start with the ordinary case: hypothesis shrinks toward first elements.
RATES_IN_USE = st.sampled_from([16000, 8000, 11025, 22050, 44100, 48000, 96000])
# the rates in use, odd ones a header may hold, the extremes, and anything at all (WAV holds 32 bits)
RATES = st.one_of(
    RATES_IN_USE, st.integers(4000, 384000), st.sampled_from([1, 2**31 - 1, 0, -1]), st.integers(1, 2**31 - 1)
)
# speech levels, int16 and int32 sample scales, silence, and up to float32's limit (noise at
# 3e37 peaks near 1.5e38, still finite in float32)
LEVELS = [0.1, 1.0, 1e-3, 3e4, 2e9, 1e-5, 1e-9, 1e30, 3e37, 3e38]
FILE_FORMATS = [
    ("WAV", "PCM_16"),
    ("WAV", "PCM_U8"),
    ("WAV", "FLOAT"),
    ("WAV", "DOUBLE"),
    ("FLAC", "PCM_16"),
    ("FLAC", "PCM_24"),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def embedder():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model's work is smaller than the cost of waking a second thread
    torch.manual_seed(0)
    yield Embedder(build_model("mirnet", n_speakers=2, **TINY_MODEL), {})
    torch.set_num_threads(threads)


@st.composite
def signals(draw, tiny: bool = True, nonfinite: bool = True, max_samples: int = 32000) -> np.ndarray:
    """(samples, channels) float64: mostly noise, else zeros or a constant, at one of LEVELS;
    with ``tiny`` half of them a few samples long, with ``nonfinite`` 2 in 5 with NaN/Inf at
    random places. The samples come from a seeded generator: hypothesis draws what matters,
    not 32000 numbers one by one."""
    lengths = [st.integers(max_samples // 2, max_samples)] + [st.integers(0, 300)] * tiny
    n = draw(st.one_of(lengths))
    channels = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    fill = draw(st.sampled_from([rng.standard_normal] * 3 + [np.zeros, np.ones]))
    x = fill((n, channels)) * draw(st.sampled_from(LEVELS))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2])) if nonfinite and n else 0):
        x[rng.integers(n), rng.integers(channels)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return x


def refused(exc: AudioError) -> None:
    assert "\n" not in str(exc)
    event(f"AudioError: {re.sub(r'-?[0-9][0-9.e+-]*', '#', exc.reason.split(' (')[0])}")


def loads_or_names_the_file(path, min_seconds: float = 0.0) -> np.ndarray | None:
    try:
        wav = load_audio(path, min_seconds=min_seconds)
    except AudioError as exc:
        assert str(path) in str(exc)
        return refused(exc)
    event("loaded")
    assert wav.dtype == np.float32 and wav.ndim == 1 and np.isfinite(wav).all()
    assert (
        wav.size >= min_seconds * SAMPLE_RATE
        and np.sqrt(np.mean(np.square(wav, dtype=np.float64))) >= SILENCE_RMS
    )
    return wav


def write(path, x: np.ndarray, rate: int, fmt: tuple[str, str]) -> bool:
    """Write ``x`` as ``fmt``; False where the format cannot hold the rate (< 1; FLAC: above
    65535 Hz only multiples of 10, up to 655350)."""
    container, subtype = fmt
    with np.errstate(over="ignore"):  # beyond float32's limit is Inf, which is part of the fuzz
        x = x.astype(np.float32)
    if subtype not in (
        "FLOAT",
        "DOUBLE",
    ):  # integer samples cannot hold NaN/Inf; the FLAC writer fails on them
        x = np.nan_to_num(x, posinf=1.0, neginf=-1.0)
    try:
        sf.write(path, x, rate, format=container, subtype=subtype)
    except (sf.LibsndfileError, ValueError):
        return False
    return True


@FUZZ
@given(
    prefix=st.sampled_from([b"", b"RIFF", b"RIFF\x24\x08\x00\x00WAVEfmt ", b"fLaC", b"OggS"]),
    body=st.binary(max_size=2048),
    suffix=st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ""]),
)
def test_random_bytes(workdir, prefix, body, suffix):
    path = workdir / f"bytes{suffix}"
    path.write_bytes(prefix + body)
    loads_or_names_the_file(path)


@FUZZ
@given(x=signals(), rate=RATES, fmt=st.sampled_from(FILE_FORMATS), min_seconds=st.sampled_from([0.0, 0.5]))
def test_written_files(workdir, x, rate, fmt, min_seconds):
    """Arrays written as real WAV/FLAC files at any rate the format holds; what loads has the
    duration of what was written."""
    path = workdir / f"signal.{fmt[0].lower()}"
    if write(path, x, rate, fmt) and (wav := loads_or_names_the_file(path, min_seconds)) is not None:
        assert abs(len(wav) - len(x) * SAMPLE_RATE / rate) <= 1 + len(wav) * 6e-4  # the small ratio's error


@FUZZ
@given(
    x=signals(tiny=False, nonfinite=False),
    rate=RATES_IN_USE,
    fmt=st.sampled_from(FILE_FORMATS),
    damage=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=4),
    truncate=st.integers(0, 4000),
)
def test_damaged_files(workdir, x, rate, fmt, damage, truncate):
    """A good file with header bytes overwritten and cut short."""
    path = workdir / f"damaged.{fmt[0].lower()}"
    assert write(path, x, rate, fmt)
    data = bytearray(path.read_bytes())
    for position, value in damage:
        data[position % len(data)] = value
    path.write_bytes(bytes(data[:truncate]))
    loads_or_names_the_file(path)


@FUZZ
@given(
    x=signals(),
    rate=RATES,
    dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int16, np.int32]),
    layout=st.sampled_from(["mono", "channels", "scalar", "3d"]),
    as_tensor=st.booleans(),
    min_seconds=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_embed_any_array(embedder, x, rate, dtype, layout, as_tensor, min_seconds):
    x = {
        "mono": x[:, 0],
        "channels": x,
        "scalar": x[:1, 0].reshape(()) if len(x) else x[:, 0],
        "3d": x[..., None],
    }[layout]
    with np.errstate(all="ignore"):  # casting NaN, Inf or huge values to a narrower type is part of the fuzz
        x = x.astype(dtype)
    embeds_or_refuses(embedder, torch.from_numpy(x) if as_tensor else x, rate, min_seconds)


@FUZZ
@given(
    x=signals(tiny=False, nonfinite=False),
    rate=st.one_of(RATES_IN_USE, st.integers(4000, 384000)),
    dtype=st.sampled_from([np.float32, np.float64]),
    stereo=st.booleans(),
)
def test_embed_audio_like_arrays(embedder, x, rate, dtype, stereo):
    """Shaped, typed and timed like audio, at every level: most of these embed, so the
    embeddings' finiteness is checked as much as the errors are."""
    with np.errstate(over="ignore"):  # beyond float32's limit is Inf, which is part of the fuzz
        x = (x if stereo else x[:, 0]).astype(dtype)
    embeds_or_refuses(embedder, x, rate, 0.1)


def embeds_or_refuses(embedder, x, rate: int, min_seconds: float) -> None:
    try:
        emb = embedder.embed(x, sample_rate=rate, min_seconds=min_seconds)
    except AudioError as exc:
        return refused(exc)
    event("embedded")
    assert emb.shape == (2, 32) and torch.isfinite(emb).all()


@pytest.fixture(scope="module")
def model_file(embedder, workdir):
    from mirnet.checkpoint import model_bundle, save_atomic

    return save_atomic(model_bundle(embedder.model, []), workdir / "tiny.pt")


@settings(FUZZ, max_examples=40)
@given(
    prefix=st.sampled_from([b"RIFF\x24\x08\x00\x00WAVEfmt ", b"fLaC", b"", b"OggS"]),
    body=st.binary(max_size=4096),
    suffix=st.sampled_from([".wav", ".flac", ""]),
    pcm=st.none() | st.tuples(RATES_IN_USE, st.sampled_from([48000, 24000]) | st.integers(0, 40000)),
)
def test_embed_command_on_random_bytes(model_file, workdir, prefix, body, suffix, pcm):
    """``mirnet embed`` as a user runs it, on random bytes or (``pcm``) a valid WAV header over
    random 16-bit samples: exit 0 with two embeddings, or exit 2 with one line naming the file,
    never a traceback."""
    from mirnet.cli import main

    path = workdir / f"cli{suffix if pcm is None else '.wav'}"
    if pcm is None:
        path.write_bytes(prefix + body)
    else:
        rate, n = pcm
        sf.write(
            path, np.random.default_rng(n).integers(-(2**15), 2**15, n, dtype=np.int16), rate, format="WAV"
        )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["embed", str(model_file), str(path)])
    out, err = out.getvalue(), err.getvalue()
    if status == 0:
        event("embedded")
        assert "speaker 2:" in out
    else:
        assert status == 2 and err.startswith("mirnet: error: ") and str(path) in err and err.count("\n") == 1
        event(err.split(f"{path}: ", 1)[-1].split(":")[0].split(" (")[0].strip())


# -- what the fuzzing found, each an exception other than AudioError (or NaN embeddings) before the fix


def test_header_rates_outside_those_in_use_are_refused(tmp_path):
    """A WAV header holds any 32-bit rate: 2**31 - 1 Hz made resampling allocate 320 GiB
    (MemoryError), 1 Hz turned 4000 samples into 64 million."""
    for rate in (2**31 - 1, 1):
        path = tmp_path / f"rate{rate}.wav"
        sf.write(path, np.full(4000, 0.1, np.float32), rate)
        with pytest.raises(AudioError, match=f"rate{rate}.wav: unsupported sample rate {rate} Hz"):
            load_audio(path)


def test_odd_rates_resample_through_a_small_filter_to_the_right_pitch():
    """383999 Hz, exactly resampled, needs a filter of 15 million taps (1.3 s, 360 MB here); its
    nearest small ratio, 1/24, is 2.6 ppm off: a 1-kHz tone stays at 1 kHz."""
    t = np.arange(383999) / 383999
    wav = to_mono_16k(np.sin(2 * np.pi * 1000 * t), 383999)
    assert len(wav) == 16000 and np.argmax(np.abs(np.fft.rfft(wav))) == 1000


@pytest.mark.parametrize("wav, rate", [(np.float32(0.3), 8000), (np.zeros((16000, 0), np.float32), 16000)])
def test_other_shapes_are_refused_before_resampling(wav, rate):
    """A 0-d array at 8 kHz raised IndexError inside scipy; zero channels read as '16000 NaN/Inf samples'."""
    with pytest.raises(AudioError, match="expected shape"):
        to_mono_16k(wav, rate)


def test_samples_near_float32_limit_are_refused():
    """Finite, but the STFT's sums overflow: the embeddings came out NaN without an error."""
    with pytest.raises(AudioError, match=r"samples up to 3.0e\+38, beyond 1e\+30"):
        check_waveform(np.full(16000, 3e38, np.float32))


def test_embed_refuses_what_the_stft_cannot_pad(embedder, tmp_path):
    """With min_seconds=0, 100 samples reached torch.stft's reflect padding (256 each side): RuntimeError."""
    wav = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    with pytest.raises(AudioError, match=r"too short: 0.01 s < 0.02 s"):
        embedder.embed(wav, min_seconds=0.0)
    sf.write(tmp_path / "short.wav", wav, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"short.wav: too short"):
        embedder.embed_file(tmp_path / "short.wav", min_seconds=0.0)
    assert embedder.embed(np.resize(wav, 257), min_seconds=0.0).isfinite().all()  # the shortest it takes
