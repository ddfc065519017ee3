"""The single boundary where audio enters mirnet: read, check, convert.

Everything downstream assumes 1-D float32 waveforms at ``SAMPLE_RATE`` that are finite and
not silent; this module is the only place that checks, so bad files fail here with the
file's name and the reason, never later inside torch.
"""

from __future__ import annotations

import functools
import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from .atomic import atomic_path
from .errors import MirnetError

SAMPLE_RATE = 16000
SILENCE_RMS = 1e-4  # about -80 dBFS: a digital-silence clip carries no speaker
# rates a recording can have: below 4 kHz there is no speech band left, above 384 kHz no format in
# use; a header outside (WAV holds any 32-bit number) would make resampling allocate gigabytes
MIN_RATE, MAX_RATE = 4000, 384000
# far beyond any sample scale (int32 PCM read as float is 2e9); near float32's 3e38 the STFT's
# sums overflow and the embeddings come out NaN
MAX_PEAK = 1e30
log = logging.getLogger(__name__)


class AudioError(MirnetError, ValueError):
    """A file or array that cannot be used as speech; the message names it and says why."""

    def __init__(self, source: str | Path, reason: str):
        self.source, self.reason = str(source), reason
        super().__init__(f"{source}: {reason}")


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
    if not np.isfinite(wav).all():
        raise AudioError(source, f"{int((~np.isfinite(wav)).sum())} NaN/Inf samples")
    peak = float(np.abs(wav).max())
    if peak > MAX_PEAK:
        raise AudioError(source, f"samples up to {peak:.1e}, beyond {MAX_PEAK:g}: not audio")
    if wav.size < min_seconds * sample_rate:
        raise AudioError(source, f"too short: {wav.size / sample_rate:.2f} s < {min_seconds:.2f} s required")
    if float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) < SILENCE_RMS:
        raise AudioError(source, "silent (RMS below -80 dBFS)")
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


def to_mono_16k(wav: np.ndarray, sample_rate: int, source: str | Path = "<array>") -> np.ndarray:
    """Downmix (samples, channels) and resample to SAMPLE_RATE, logging each conversion.

    The resampling ratio is the nearest fraction with a denominator of at most 1000: exact for
    every rate in use (44.1 kHz is 160/441); for an odd rate from a header it is at most 0.013%
    off (7999 Hz), where the exact ratio (16000/383999) would need a filter of 15 million taps."""
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim not in (1, 2) or wav.ndim == 2 and wav.shape[1] == 0:
        raise AudioError(source, f"expected shape (samples,) or (samples, channels), got {wav.shape}")
    if wav.ndim == 2:
        log.info("%s: downmixing %d channels to mono", source, wav.shape[1])
        wav = wav.mean(axis=1)
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise AudioError(
            source, f"unsupported sample rate {sample_rate} Hz (expected {MIN_RATE} to {MAX_RATE})"
        )
    if sample_rate != SAMPLE_RATE:
        log.info("%s: resampling %d Hz -> %d Hz", source, sample_rate, SAMPLE_RATE)
        ratio = Fraction(SAMPLE_RATE, sample_rate).limit_denominator(1000)
        wav = resample(wav, ratio.numerator, ratio.denominator)
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


def audio_info(path: str | Path) -> tuple[int, int]:
    """(frames, sample_rate) from the header alone: manifests need durations without decoding."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types; all mean the same to a user
        raise AudioError(path, f"unreadable audio ({exc.__class__.__name__}: {exc})") from None
    return info.frames, info.samplerate


def load_audio(path: str | Path, *, start: int = 0, frames: int = -1, min_seconds: float = 0.0) -> np.ndarray:
    """Read ``path`` as mono float32 at 16 kHz, shape (samples,).

    ``start``/``frames`` are in samples at the file's own rate; reading only a crop keeps
    on-the-fly mixing cheap for long files.
    """
    try:
        wav, sr = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=False)
    except Exception as exc:
        raise AudioError(path, f"unreadable audio ({exc.__class__.__name__}: {exc})") from None
    return check_waveform(to_mono_16k(wav, sr, path), path, min_seconds=min_seconds)


def save_audio(path: str | Path, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a mono waveform atomically (temp file + rename): an interrupted run leaves no half file."""
    path = Path(path)
    fmt = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.asarray(wav, dtype=np.float32), sample_rate, format=fmt, subtype="PCM_16")
    return path
