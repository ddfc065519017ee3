"""Synthesizer voices, one speaker each: which are installed, which can read the corpus text
(a one-sentence probe), and speech from one of them.

Voices are the MBROLA diphone databases, fed phonemes by espeak-ng, plus flite's English voices
(the default engines). ``"espeak"`` adds espeak-ng's own formant voice variants reading American
English: not recordings of people, but ~100 further distinct voices.
"""

from __future__ import annotations

import io
import logging
import math
import multiprocessing
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from mirnet.audio import SAMPLE_RATE, frame_db, resample
from mirnet.errors import InputError, MirnetError, MissingDependency

log = logging.getLogger(__name__)

MBROLA_DIR = pathlib.Path("/usr/share/mbrola")  # Debian's; MIRNET_MBROLA_DIR names another
FLITE_VOICES = {"awb": "M", "kal16": "M", "rms": "M", "slt": "F"}
TOOLS = {"mbrola": ("espeak-ng", "mbrola"), "flite": ("flite",), "espeak": ("espeak-ng",)}
ENGINES = tuple(TOOLS)
DEFAULT_ENGINES = ("flite", "mbrola")
MAX_SECONDS = 6.0  # the longest corpus utterance; a voice that needs longer for a short sentence is refused

_PROBE_TEXT = "The quick brown fox jumps over the lazy dog near the river bank."
_MBROLA_VOLUME = 0.5  # full scale clips several MBROLA voices
# espeak-ng variants are numbered from here, by file name, so their speaker IDs (2000 on) never meet
# the catalogue's, even when two corpora made with different engines are trained on together. The
# numbering holds for one variant set (espeak-ng 1.51's 101); a release that adds one renumbers.
_ESPEAK_INDEX_BASE = 1000
_ESPEAK_LANGUAGE = "en-us"
# Every voice Debian 12 packages (mbrola-*) and flite ships, in (engine, name) order: a voice's
# position here is its speaker ID offset and seeds its random streams, so IDs and audio do not
# depend on which other voices a machine happens to have installed. Voices not listed (a newer
# release) are numbered after these.
_CATALOGUE = tuple(
    [("flite", n) for n in ("awb", "kal16", "rms", "slt")]
    + [
        ("mbrola", n)
        for n in (
            "af1 ar1 ar2 br1 br2 br3 br4 bz1 ca1 ca2 cn1 cr1 cz1 cz2 de1 de2 de3 de4 de5 de6 de7 de8 ee1 en1 es1 es2 "
            "es3 es4 fr1 fr2 fr3 fr4 fr5 fr6 fr7 gr1 gr2 hb1 hb2 hn1 hu1 ic1 id1 in1 in2 ir1 it1 it2 it3 it4 jp1 jp2 "
            "jp3 la1 lt1 lt2 ma1 mx1 mx2 nl1 nl2 nl3 nz1 pl1 pt1 ro1 sw1 sw2 tl1 tr1 tr2 us1 us2 us3 vz1"
        ).split()
    ]
)


@dataclass(frozen=True, order=True)
class Voice:
    """One installed synthesizer voice; ``engine`` is "mbrola" (via espeak-ng), "flite" or
    "espeak" (an espeak-ng formant variant, named by its file in espeak-ng's voices/!v)."""

    engine: str
    name: str
    language: str
    gender: str  # "M", "F" or "?"


class SynthesisError(MirnetError, RuntimeError):
    """A synthesizer call that produced no usable audio."""


def available_voices(engines: tuple[str, ...] = DEFAULT_ENGINES) -> list[Voice]:
    """All installed voices of ``engines`` that pass a one-sentence probe, sorted by (engine, name)."""
    engines = check_engines(engines)
    require_tools(engines)
    installed = installed_voices(engines)
    with worker_pool(None) as pool:
        working, _ = probe_voices(installed, installed, pool)
    return [voice for _, voice in working]


def check_engines(engines) -> tuple[str, ...]:
    engines = tuple(sorted(set(engines)))
    unknown = [e for e in engines if e not in ENGINES]
    if not engines or unknown:
        raise InputError(f"engines must be some of {list(ENGINES)}, got {list(engines)}")
    return engines


def require_tools(engines: tuple[str, ...]) -> None:
    for tool in sorted({tool for engine in engines for tool in TOOLS[engine]}):
        if shutil.which(tool) is None:
            raise MissingDependency(
                f"{tool!r} not found on PATH; `make setup` installs the speech "
                "synthesizers (espeak-ng, the mbrola voices and flite)"
            )


def worker_pool(jobs: int | None):
    # spawn, not fork: the caller may hold threads (torch) that a forked child would inherit.
    return multiprocessing.get_context("spawn").Pool(jobs or os.cpu_count() or 1)


def mbrola_dir() -> pathlib.Path:
    """Where MBROLA voices are looked for: ``$MIRNET_MBROLA_DIR`` (voices installed without root,
    or a folder restricting which installed voices count, as the test suite does) or Debian's."""
    return pathlib.Path(os.environ.get("MIRNET_MBROLA_DIR") or MBROLA_DIR)


def _espeak_data_dir() -> pathlib.Path:
    """espeak-ng's data directory, which differs between distributions; it prints it."""
    version = _run_text(["espeak-ng", "--version"])
    match = re.search(r"Data at:\s*(\S+)", version)
    if match is None:
        raise SynthesisError(f"cannot find the espeak-ng data directory in {version!r}")
    return pathlib.Path(match.group(1))


def installed_voices(engines: tuple[str, ...]) -> list[Voice]:
    """Every installed candidate voice of ``engines``, working or not."""
    voices = []
    if "mbrola" in engines and mbrola_dir().is_dir():
        voice_dir = _espeak_data_dir() / "voices" / "mb"
        voices += [
            _mbrola_voice(d.name, voice_dir / f"mb-{d.name}") for d in mbrola_dir().iterdir() if d.is_dir()
        ]
    if "flite" in engines:
        voices += [Voice("flite", name, "en", gender) for name, gender in FLITE_VOICES.items()]
    if "espeak" in engines:
        voices += _espeak_variants()
    return sorted(voices)


def _espeak_variants() -> list[Voice]:
    """espeak-ng's voice variants as its own listing gives them (File column ``!v/<name>``)."""
    variants = []
    for line in _run_text(["espeak-ng", "--voices=variant"]).splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5 and fields[4].startswith("!v/"):
            gender = {"M": "M", "F": "F"}.get(fields[2].rpartition("/")[2], "?")
            variants.append(Voice("espeak", fields[4].removeprefix("!v/"), _ESPEAK_LANGUAGE, gender))
    return variants


def _mbrola_voice(name: str, voice_file: pathlib.Path) -> Voice:
    """Language and gender from espeak-ng's mb-<name> voice file ("?" when it has none)."""
    language = gender = "?"
    if voice_file.is_file():
        for line in voice_file.read_text(errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "language" and language == "?":
                language = fields[1]
            elif len(fields) >= 2 and fields[0] == "gender":
                gender = {"male": "M", "female": "F"}.get(fields[1], "?")
    return Voice("mbrola", name, language, gender)


def probe_voices(
    candidates: list[Voice], installed: list[Voice], pool
) -> tuple[list[tuple[int, Voice]], dict[str, str]]:
    """(speaker index, voice) for voices that work and {name: reason} for the rest."""
    extras = sorted(
        (v.engine, v.name) for v in installed if (v.engine, v.name) not in _CATALOGUE and v.engine != "espeak"
    )
    order = {key: i for i, key in enumerate(_CATALOGUE + tuple(extras))}
    variants = sorted(v.name for v in installed if v.engine == "espeak")
    order |= {("espeak", name): _ESPEAK_INDEX_BASE + i for i, name in enumerate(variants)}
    working, skipped = [], {}
    for voice, reason in zip(candidates, pool.map(_probe, candidates)):
        if reason is None:
            working.append((order[voice.engine, voice.name], voice))
        else:
            log.warning("skipping voice %s/%s: %s", voice.engine, voice.name, reason)
            skipped[voice.name] = reason
    return working, skipped


def _probe(voice: Voice) -> str | None:
    """Why ``voice`` cannot speak the corpus text, or None when it can.

    MBROLA replaces diphones it lacks with silence, and some voices spell English letter by
    letter; both still "work" but would give gappy or overlong speech.
    """
    neutral = (
        ["--setf", "duration_stretch=1", "--setf", "f0_shift=1"]
        if voice.engine == "flite"
        else ["-s", "165", "-p", "50"]
    )
    try:
        audio = to_sample_rate(*synthesize(voice, _PROBE_TEXT, neutral))
    except SynthesisError as exc:
        return str(exc)
    if len(audio) < SAMPLE_RATE // 2 or not np.isfinite(audio).all() or np.abs(audio).max() < 1e-3:
        return "no audible speech in the output"
    db = frame_db(audio)
    active = np.flatnonzero(db > db.max() - 40.0)
    span = active[-1] - active[0] + 1
    if len(active) / span < 0.5:
        return f"mostly silence ({len(active) / span:.0%} active): diphones missing for English text"
    if span * 0.01 > MAX_SECONDS:
        return f"a short test sentence lasts {span * 0.01:.1f} s: the voice cannot read English text"
    return None


def synthesize(voice: Voice, text: str, prosody: list[str]) -> tuple[np.ndarray, int]:
    """(float32 samples, sample rate) from one synthesizer call."""
    with tempfile.TemporaryDirectory(prefix="mirnet-synth-") as tmp:
        wav = pathlib.Path(tmp) / "out.wav"
        if voice.engine == "mbrola":
            # Not `espeak-ng --stdout`: its pipe to MBROLA drops audio at random when MBROLA
            # reports missing diphones. Text to phonemes, then phonemes to audio, is exact.
            pho = _call(["espeak-ng", "-q", "-v", f"mb-{voice.name}", *prosody, "--pho", text])
            database = mbrola_dir() / voice.name / voice.name
            _call(["mbrola", "-e", "-v", str(_MBROLA_VOLUME), str(database), "-", str(wav)], pho)
        elif voice.engine == "espeak":
            _call(["espeak-ng", "-v", f"{voice.language}+{voice.name}", *prosody, "-w", str(wav), text])
        else:
            _call(["flite", "-voice", voice.name, *prosody, "-t", text, "-o", str(wav)])
        data = wav.read_bytes() if wav.is_file() else b""
    if len(data) <= 44:  # a WAV header without samples
        raise SynthesisError(f"{voice.engine} voice {voice.name} produced no audio")
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


def _call(cmd: list[str], stdin: bytes | None = None) -> bytes:
    """stdout of ``cmd``; a failure raises SynthesisError with the tool's own message."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=120)
    if proc.returncode != 0:
        errors = [line.strip() for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise SynthesisError(
            f"{cmd[0]} failed (exit {proc.returncode}): {errors[0] if errors else 'no error message'}"
        )
    return proc.stdout


def to_sample_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return audio
    g = math.gcd(SAMPLE_RATE, rate)
    return resample(audio, SAMPLE_RATE // g, rate // g)


def tool_version(tool: str) -> str:
    lines = [line.strip() for line in _run_text([tool, "--version"]).splitlines() if line.strip()]
    return next((line for line in lines if "version" in line.lower()), lines[0] if lines else "unknown")


def _run_text(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr
