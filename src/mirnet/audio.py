"""The single boundary where audio enters mirnet: read, check, convert.

Everything downstream assumes 1-D float32 waveforms at ``SAMPLE_RATE`` that are finite and
not silent; this module is the only place that checks, so bad files fail here with the
file's name and the reason, never later inside torch.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from .atomic import atomic_path
from .errors import MirnetError

SAMPLE_RATE = 16000
SILENCE_RMS = 1e-4  # about -80 dBFS: a digital-silence clip carries no speaker
# rates a recording can have: below 4 kHz there is no speech band left, above 384 kHz no format in
# use; a header outside (WAV holds any 32-bit number) would make resampling allocate gigabytes
MIN_RATE, MAX_RATE = 4000, 384000
# samples per second of audio (channels x rate) a file may make us decode: 32 channels at 48 kHz.
# Decoding in blocks keeps memory flat, not time: a limit on seconds (the server's) bounds the work
# only beside this one, as a FLAC of a constant compresses about 1000:1 (a 1.2-MB upload claimed
# 360 s of 8 channels at 384 kHz, 1.1 billion samples, for 360 s of 16-kHz mono)
MAX_CHANNEL_RATE = 32 * 48000
# samples (frames x channels) decoded at a time, 8 MB of float32: memory stays a constant plus the
# 16-kHz mono result however many channels or seconds the file has
BLOCK_SAMPLES = 2**21
# far beyond any sample scale (int32 PCM read as float is 2e9); near float32's 3e38 the STFT's
# sums overflow and the embeddings come out NaN
MAX_PEAK = 1e30
log = logging.getLogger(__name__)


class AudioError(MirnetError, ValueError):
    """A file or array that cannot be used as speech; the message names it and says why."""

    def __init__(self, source: str | Path, reason: str):
        self.source, self.reason = str(source), reason
        super().__init__(f"{source}: {reason}")


class DecodeCostError(AudioError):
    """A header that asks for more decoding per second of speech than any recording needs: a
    server answers it 413 (too large), not 415 (not audio)."""


class _Levels:
    """What ``check_waveform`` checks, summed over a waveform's pieces: a long recording is
    checked a piece at a time (``check_audio``), and no temporary is the size of the waveform."""

    CHUNK = 2**20

    def __init__(self):
        self.samples, self.nonfinite, self.peak, self.energy = 0, 0, 0.0, 0.0

    def add(self, wav: np.ndarray) -> _Levels:
        for at in range(0, wav.size, self.CHUNK):
            x = wav[at : at + self.CHUNK]
            self.samples += x.size
            self.nonfinite += x.size - int(np.count_nonzero(np.isfinite(x)))
            with np.errstate(over="ignore"):  # a float64 input beyond 1e154: refused below as its peak
                self.peak = max(self.peak, float(np.abs(x).max()))
                self.energy += float(np.square(x, dtype=np.float64).sum())
        return self

    def check(self, source: str | Path, min_seconds: float, sample_rate: int) -> None:
        if self.samples == 0:
            raise AudioError(source, "empty audio (0 samples)")
        if self.nonfinite:
            raise AudioError(source, f"{self.nonfinite} NaN/Inf samples")
        if self.peak > MAX_PEAK:
            raise AudioError(source, f"samples up to {self.peak:.1e}, beyond {MAX_PEAK:g}: not audio")
        if self.samples < min_seconds * sample_rate:
            raise AudioError(
                source, f"too short: {self.samples / sample_rate:.2f} s < {min_seconds:.2f} s required"
            )
        if np.sqrt(self.energy / self.samples) < SILENCE_RMS:
            raise AudioError(source, "silent (RMS below -80 dBFS)")


def check_waveform(
    wav: np.ndarray,
    source: str | Path = "<array>",
    *,
    min_seconds: float = 0.0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Return ``wav`` as contiguous float32 of shape (samples,) or raise AudioError."""
    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise AudioError(source, f"expected a mono waveform of shape (samples,), got shape {wav.shape}")
    if wav.size == 0:
        raise AudioError(source, "empty audio (0 samples)")
    if not np.issubdtype(wav.dtype, np.floating):
        raise AudioError(source, f"expected float samples, got dtype {wav.dtype}")
    _Levels().add(wav).check(source, min_seconds, sample_rate)
    return np.ascontiguousarray(wav, dtype=np.float32)


def frame_db(wav: np.ndarray, hop: int = SAMPLE_RATE // 100) -> np.ndarray:
    """Energy in dB of consecutive ``hop``-sample frames (10 ms at 16 kHz), in float64."""
    frames = wav[: len(wav) // hop * hop].reshape(-1, hop).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def trim_silence(wav: np.ndarray, floor_db: float = -50.0, pad: float = 0.0) -> np.ndarray:
    """``wav`` without its leading and trailing 10-ms frames quieter than ``floor_db`` below the
    loudest, keeping ``pad`` seconds of them; empty when nothing is audible (below -80 dB)."""
    hop = SAMPLE_RATE // 100
    db = frame_db(wav, hop)
    if len(db) == 0 or db.max() < -80:
        return wav[:0]
    active = np.flatnonzero(db > db.max() + floor_db)
    keep = round(pad * SAMPLE_RATE)
    return wav[max(0, active[0] * hop - keep) : min(len(wav), (active[-1] + 1) * hop + keep)]


def _rate_error(source: str | Path, sample_rate: int) -> AudioError | None:
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        return AudioError(
            source, f"unsupported sample rate {sample_rate} Hz (expected {MIN_RATE} to {MAX_RATE})"
        )
    return None


def _ratio(sample_rate: int) -> tuple[int, int]:
    """(up, down) taking ``sample_rate`` to SAMPLE_RATE: the nearest fraction with a denominator of
    at most 1000. Exact for every rate in use (44.1 kHz is 160/441); for an odd rate from a header
    it is at most 0.013% off (7999 Hz), where the exact ratio (16000/383999) would need a filter of
    15 million taps."""
    ratio = Fraction(SAMPLE_RATE, sample_rate).limit_denominator(1000)
    return ratio.numerator, ratio.denominator


def to_mono_16k(wav: np.ndarray, sample_rate: int, source: str | Path = "<array>") -> np.ndarray:
    """Downmix (samples, channels) and resample to SAMPLE_RATE (``_ratio``), logging each
    conversion: for waveforms already in memory; a file is converted as it is decoded
    (``read_audio``), to the same samples."""
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim not in (1, 2) or wav.ndim == 2 and wav.shape[1] == 0:
        raise AudioError(source, f"expected shape (samples,) or (samples, channels), got {wav.shape}")
    if wav.ndim == 2:
        log.info("%s: downmixing %d channels to mono", source, wav.shape[1])
        wav = wav.mean(axis=1)
    if error := _rate_error(source, sample_rate):
        raise error
    if sample_rate != SAMPLE_RATE:
        log.info("%s: resampling %d Hz -> %d Hz", source, sample_rate, SAMPLE_RATE)
        wav = resample(wav, *_ratio(sample_rate))
    return wav


@functools.lru_cache(maxsize=32)
def _lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing filter ``resample_poly`` designs on every call (the same taps, in
    float32 as it makes them for float32 input), designed once per ratio: it was a third of the
    time of speed-perturbing a 3-s crop (benchmarks/data_pipeline.py)."""
    from scipy.signal import firwin  # 1.6 s to import; only resampling needs it

    max_rate = max(up, down)
    taps = firwin(20 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)
    taps.flags.writeable = False  # shared by every call; resample_poly works on its own copy
    return taps


def resample(wav: np.ndarray, up: int, down: int) -> np.ndarray:
    """float32 ``wav`` at up/down times its rate (a reduced fraction), bit-identical to
    ``resample_poly(wav, up, down)`` (tested) without designing its filter again."""
    from scipy.signal import resample_poly

    return resample_poly(np.asarray(wav, dtype=np.float32), up, down, window=_lowpass(up, down)).astype(
        np.float32
    )


def resample_rate(wav: np.ndarray, rate: int, to: int) -> np.ndarray:
    """float32 ``wav`` at ``rate`` Hz -> at ``to`` Hz (``resample`` by the reduced fraction)."""
    if rate == to:
        return np.asarray(wav, dtype=np.float32)
    g = math.gcd(rate, to)
    return resample(wav, to // g, rate // g)


def _resample_blocks(blocks: Iterable[np.ndarray], up: int, down: int) -> Iterator[np.ndarray]:
    """The consecutive pieces of ``resample(np.concatenate(blocks), up, down)``, bit-identical
    (tested), holding one block and its filter's reach at a time instead of the whole input.

    Output m is a sum over inputs near m * down / up, so the outputs of inputs [a, b), a and b
    multiples of ``down`` (where input and output samples line up), are those of any stretch of
    input from ``a - reach`` (a multiple of ``down`` too) to ``b + reach``: ``reach`` covers the
    filter's half-length in input samples, and all of scipy's window of taps, its zero padding
    included, so that the same products are summed in the same order. A single block is
    resampled in one call, as ``resample`` does it."""
    taps = len(_lowpass(up, down))
    # scipy's window spans (taps + its padding, under 2 * down) / up inputs: twice that, rounded up
    reach = -(-(2 * (taps + 2 * down) // up + 4) // down) * down
    blocks = iter(blocks)
    buf = next(blocks, np.zeros(0, np.float32))
    offset = done = 0  # input index of buf[0], and up to which the outputs were given
    for block in blocks:
        buf = np.concatenate([buf, block])
        stop = (offset + len(buf) - reach) // down * down
        if stop <= done:
            continue
        first = (done - offset) // down * up
        yield resample(buf, up, down)[first : first + (stop - done) // down * up]
        done = stop
        cut = max(done - reach, 0) - offset
        buf, offset = buf[cut:], offset + cut
    if offset + len(buf) > done:
        yield resample(buf, up, down)[(done - offset) // down * up :]


class Header(NamedTuple):
    """What a file's header says, checked before anything is decoded."""

    frames: int
    sample_rate: int
    channels: int


def _checked(source: str | Path, f: sf.SoundFile) -> Header:
    header = Header(f.frames, f.samplerate, f.channels)
    if error := _rate_error(source, header.sample_rate):
        raise error
    if header.channels < 1:
        raise AudioError(source, f"{header.channels} channels")
    if header.channels * header.sample_rate > MAX_CHANNEL_RATE:
        raise DecodeCostError(
            source,
            f"{header.channels} channels at {header.sample_rate} Hz: "
            f"{header.channels * header.sample_rate} samples per second to decode, "
            f"the limit is {MAX_CHANNEL_RATE}",
        )
    return header


@contextmanager
def _unreadable(path: str | Path):
    """soundfile's errors (several types: all mean the same to a user) as one AudioError."""
    try:
        yield
    except Exception as exc:
        raise AudioError(path, f"unreadable audio ({exc.__class__.__name__}: {exc})") from None


def read_header(path: str | Path) -> Header:
    """(frames, sample_rate, channels) of ``path`` from its header alone (what ``sf.info`` opens
    the file for), refusing what ``load_audio`` would refuse before decoding anything: a server
    answers from it before it decodes an upload."""
    with _unreadable(path):
        f = sf.SoundFile(str(path))
    with f:
        return _checked(path, f)


def audio_info(path: str | Path) -> tuple[int, int]:
    """(frames, sample_rate) from the header alone (``read_header``): manifests need durations
    without decoding."""
    return read_header(path)[:2]


def _decode(path: str | Path, start: int, frames: int) -> tuple[Header, int, Iterator[np.ndarray]]:
    """``path``'s checked header, the number of samples at SAMPLE_RATE of its frames [start,
    start + frames) (as ``sf.read`` counts them: ``frames`` < 0 to the end) and the pieces they
    come in: mono float32, decoded ``BLOCK_SAMPLES`` at a time, downmixed and resampled block by
    block to the very samples ``to_mono_16k`` gives the whole."""
    with _unreadable(path):
        f = sf.SoundFile(str(path))
    try:
        header = _checked(path, f)
        start, stop, _ = slice(start, None).indices(header.frames)
        n = stop - start if frames < 0 else min(frames, stop - start)
        if start:
            with _unreadable(path):
                f.seek(start)
    except BaseException:
        f.close()
        raise
    size = max(1, BLOCK_SAMPLES // header.channels)

    def blocks() -> Iterator[np.ndarray]:
        with f:
            left = n
            while left > 0:
                with _unreadable(path):
                    data = f.read(min(size, left), dtype="float32", always_2d=True)
                if len(data) == 0:  # a header that promised more than the file holds
                    return
                left -= len(data)
                yield data[:, 0] if header.channels == 1 else data.mean(axis=1)

    if header.sample_rate == SAMPLE_RATE:
        return header, n, blocks()
    up, down = _ratio(header.sample_rate)
    return header, -(-n * up // down), _resample_blocks(blocks(), up, down)


def _log_conversions(path: str | Path, header: Header) -> None:
    """Once per file a user gave, not per window or crop: a server's log would fill with them."""
    if header.channels > 1:
        log.info("%s: downmixing %d channels to mono", path, header.channels)
    if header.sample_rate != SAMPLE_RATE:
        log.info("%s: resampling %d Hz -> %d Hz", path, header.sample_rate, SAMPLE_RATE)


def read_audio(path: str | Path, *, start: int = 0, frames: int = -1) -> np.ndarray:
    """``path`` as mono float32 at 16 kHz, shape (samples,), refused only from its header: the
    windows of a file ``check_audio`` has passed, where a silent one is a pause, not an error.

    ``start``/``frames`` are in samples at the file's own rate. Memory is the result and a
    constant: a long multichannel file is never held whole."""
    return _read(path, start, frames)[1]


def _read(path: str | Path, start: int, frames: int) -> tuple[Header, np.ndarray]:
    header, size, pieces = _decode(path, start, frames)
    out, n = np.empty(size, np.float32), 0
    for piece in pieces:
        if n == 0 and len(piece) == size:
            out = piece  # all of it in one block (a crop, a short file): no copy
        else:
            if n + len(piece) > len(out):  # a header that promised fewer frames than the file holds
                out = np.concatenate([out[:n], np.empty(max(len(piece), n), np.float32)])
            out[n : n + len(piece)] = piece
        n += len(piece)
    return header, out if n == len(out) else out[:n].copy()


def load_audio(path: str | Path, *, start: int = 0, frames: int = -1, min_seconds: float = 0.0) -> np.ndarray:
    """Read ``path`` as mono float32 at 16 kHz, shape (samples,), checked (``check_waveform``).

    ``start``/``frames`` are in samples at the file's own rate; reading only a crop keeps
    on-the-fly mixing cheap for long files; the conversions are logged for a whole file only.
    """
    header, wav = _read(path, start, frames)
    if start == 0 and frames < 0:
        _log_conversions(path, header)
    return check_waveform(wav, path, min_seconds=min_seconds)


def check_audio(path: str | Path, *, min_seconds: float = 0.0) -> Header:
    """``path``'s header if ``load_audio(path)`` would take the file, else its AudioError; decoded
    a block at a time and not kept, for a recording read window by window (diarization)."""
    header, _, pieces = _decode(path, 0, -1)
    _log_conversions(path, header)
    levels = _Levels()
    for piece in pieces:
        levels.add(piece)
    levels.check(path, min_seconds, SAMPLE_RATE)
    return header


def save_audio(path: str | Path, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a mono waveform atomically (temp file + rename): an interrupted run leaves no half file."""
    path = Path(path)
    fmt = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.asarray(wav, dtype=np.float32), sample_rate, format=fmt, subtype="PCM_16")
    return path
