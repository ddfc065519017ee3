"""Synthesize the default speech corpus: one synthesizer voice is one speaker.

Voices are the MBROLA diphone databases, fed phonemes by espeak-ng, plus flite's English voices
(``engines=("flite", "mbrola")``, the default). ``"espeak"`` adds espeak-ng's own formant voice
variants reading American English: not recordings of people, but ~100 further distinct voices,
worth having as extra training speakers when only ~70 recorded ones exist.
The output uses the LibriSpeech layout (``seen``/``unseen`` instead of LibriSpeech's subsets),
so the reader written for real LibriSpeech reads it unchanged. Every utterance is a pure
function of (seed, voice, utterance index), which makes parallel work, resuming and caching
safe: a file written twice comes out byte-identical.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import math
import multiprocessing
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources

import numpy as np
import soundfile as sf
from tqdm import tqdm

from mirnet.atomic import atomic_path, write_text
from mirnet.audio import SAMPLE_RATE, frame_db, resample, trim_silence
from mirnet.errors import InputError, MirnetError, MissingDependency

log = logging.getLogger(__name__)

MIN_SECONDS, MAX_SECONDS = 3.0, 6.0
MBROLA_DIR = pathlib.Path("/usr/share/mbrola")  # Debian's; MIRNET_MBROLA_DIR names another
FLITE_VOICES = {"awb": "M", "kal16": "M", "rms": "M", "slt": "F"}
TOOLS = {"mbrola": ("espeak-ng", "mbrola"), "flite": ("flite",), "espeak": ("espeak-ng",)}
ENGINES = tuple(TOOLS)
DEFAULT_ENGINES = ("flite", "mbrola")
FORMAT_VERSION = 2  # bump whenever the same arguments would give different audio
MANIFEST = "corpus.json"

_PROBE_TEXT = "The quick brown fox jumps over the lazy dog near the river bank."
_MBROLA_VOLUME = 0.5  # full scale clips several MBROLA voices
_MAX_TRIES = 200  # attempts per utterance before giving up on the 3-6 s window (a slow voice can need
# many more than 40 over hundreds of utterances; each try draws one new sentence of the 253)
_SPEAKER_ID_BASE = 1000
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
# Tags keep the per-purpose random streams apart: numpy seeds [s], [s, 0] and s are identical.
_SPLIT_STREAM, _SPEAKER_STREAM, _UTTERANCE_STREAM = 0, 1, 2


@dataclass(frozen=True, order=True)
class Voice:
    """One installed synthesizer voice; ``engine`` is "mbrola" (via espeak-ng), "flite" or
    "espeak" (an espeak-ng formant variant, named by its file in espeak-ng's voices/!v)."""

    engine: str
    name: str
    language: str
    gender: str  # "M", "F" or "?"


@dataclass(frozen=True)
class _Speaker:
    voice: Voice
    index: int  # position in _CATALOGUE, so IDs survive --voices/--speakers and other installs
    subset: str  # "seen" or "unseen"

    @property
    def id(self) -> str:
        return str(_SPEAKER_ID_BASE + self.index)

    @property
    def chapter(self) -> str:
        return f"{self.id}1"

    def chapter_dir(self, out: pathlib.Path) -> pathlib.Path:
        return out / self.subset / self.id / self.chapter

    def utterance_id(self, utterance: int) -> str:
        return f"{self.id}-{self.chapter}-{utterance:04d}"

    def trans_path(self, out: pathlib.Path) -> pathlib.Path:
        return self.chapter_dir(out) / f"{self.id}-{self.chapter}.trans.txt"


@dataclass(frozen=True)
class _Job:
    voice: Voice
    speaker_index: int
    utterance: int
    seed: int
    path: pathlib.Path


class SynthesisError(MirnetError, RuntimeError):
    """A synthesizer call that produced no usable audio."""


def available_voices(engines: tuple[str, ...] = DEFAULT_ENGINES) -> list[Voice]:
    """All installed voices of ``engines`` that pass a one-sentence probe, sorted by (engine, name)."""
    engines = _check_engines(engines)
    _require_tools(engines)
    installed = _installed_voices(engines)
    with _pool(None) as pool:
        working, _ = _probe_voices(installed, installed, pool)
    return [voice for _, voice in working]


def synthesize_corpus(
    out_dir: str | os.PathLike,
    *,
    voices: list[str] | None = None,
    speakers: int | None = None,
    utterances: int = 40,
    seed: int = 0,
    unseen_fraction: float = 0.2,
    engines: tuple[str, ...] = DEFAULT_ENGINES,
    jobs: int | None = None,
    progress: bool = True,
) -> pathlib.Path:
    """Write (or complete) the corpus in ``out_dir`` and return its path.

    A complete corpus made with the same arguments is returned untouched; a partial one is
    resumed by synthesizing only the missing utterances. ``unseen_fraction=0`` puts every
    speaker in ``seen``: a corpus of extra training speakers.
    """
    engines = _check_engines(engines)
    if speakers is not None and speakers < 2:
        raise InputError(f"speakers must be at least 2 (seen and unseen need one each), got {speakers}")
    if utterances < 1:
        raise InputError(f"utterances must be at least 1, got {utterances}")
    if not 0.0 <= unseen_fraction < 1.0:
        raise InputError(f"unseen_fraction must be in [0, 1), got {unseen_fraction}")
    if jobs is not None and jobs < 1:
        raise InputError(f"jobs must be at least 1, got {jobs}")
    if voices is not None and len(set(voices)) < 2:
        raise InputError(f"voices must name at least 2 distinct voices, got {voices}")

    out = pathlib.Path(out_dir)
    args = {
        "voices": sorted(set(voices)) if voices is not None else None,
        "speakers": speakers,
        "utterances": utterances,
        "seed": seed,
        "unseen_fraction": unseen_fraction,
        "engines": list(engines),
        "sentences_sha256": hashlib.sha256(_sentences_text().encode()).hexdigest(),
        "format": FORMAT_VERSION,
    }
    manifest = _read_manifest(out)
    if manifest is not None and manifest["args"] != args:
        raise FileExistsError(
            f"{out} holds a corpus made with other arguments ({manifest['args']}); "
            "delete it or choose another directory"
        )
    if manifest is not None:
        plan = [_Speaker(Voice(**s["voice"]), s["index"], s["subset"]) for s in manifest["speakers"]]
        todo = _missing(out, plan, utterances, seed)
        if manifest["complete"] and not todo:
            log.info("%s: complete corpus with the same arguments, nothing to do", out)
            return out
    _require_tools(engines)
    with _pool(jobs) as pool:
        if manifest is None:
            manifest, plan = _plan(out, args, voices, speakers, seed, unseen_fraction, engines, pool)
            todo = _missing(out, plan, utterances, seed)
        log.info("%s: synthesizing %d utterances for %d speakers", out, len(todo), len(plan))
        _render_all(out, plan, todo, pool, progress)
    _finish(out, manifest, plan)
    return out


def _check_engines(engines) -> tuple[str, ...]:
    engines = tuple(sorted(set(engines)))
    unknown = [e for e in engines if e not in ENGINES]
    if not engines or unknown:
        raise InputError(f"engines must be some of {list(ENGINES)}, got {list(engines)}")
    return engines


def _require_tools(engines: tuple[str, ...]) -> None:
    for tool in sorted({tool for engine in engines for tool in TOOLS[engine]}):
        if shutil.which(tool) is None:
            raise MissingDependency(
                f"{tool!r} not found on PATH; `make setup` installs the speech "
                "synthesizers (espeak-ng, the mbrola voices and flite)"
            )


def _pool(jobs: int | None):
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


def _installed_voices(engines: tuple[str, ...]) -> list[Voice]:
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


def _probe_voices(
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
        audio = _resample(*_synthesize(voice, _PROBE_TEXT, neutral))
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


def _plan(
    out: pathlib.Path,
    args: dict,
    voices: list[str] | None,
    speakers: int | None,
    seed: int,
    unseen_fraction: float,
    engines: tuple[str, ...],
    pool,
) -> tuple[dict, list[_Speaker]]:
    """Probe, select and split the speakers, and record that in a first, incomplete manifest."""
    installed = _installed_voices(engines)
    candidates = installed
    if voices is not None:
        unknown = sorted(set(voices) - {v.name for v in installed})
        if unknown:
            raise InputError(f"unknown voices {unknown}; installed: {[v.name for v in installed]}")
        candidates = [v for v in installed if v.name in voices]
    working, skipped = _probe_voices(candidates, installed, pool)
    if len(working) < 2:
        raise InputError(
            f"need at least 2 working voices among {[v.name for v in candidates]}, "
            f"got {[v.name for _, v in working]}; skipped: {skipped}"
        )
    rng = np.random.default_rng([seed, _SPLIT_STREAM])
    working = [working[i] for i in rng.permutation(len(working))]
    if speakers is not None and speakers > len(working):
        raise InputError(f"speakers={speakers} but only {len(working)} voices work")
    chosen = sorted(working[:speakers])
    unseen = _unseen_indices(chosen, unseen_fraction, rng)
    plan = [_Speaker(voice, index, "unseen" if index in unseen else "seen") for index, voice in chosen]
    tools = sorted({TOOLS[s.voice.engine][0] for s in plan})
    manifest = {
        "format": FORMAT_VERSION,
        "complete": False,
        "args": args,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "engines": {tool: _tool_version(tool) for tool in tools},
        "voices_used": [s.voice.name for s in plan],
        "voices_skipped": skipped,
        "speakers": [{"voice": asdict(s.voice), "index": s.index, "subset": s.subset} for s in plan],
    }
    out.mkdir(parents=True, exist_ok=True)
    _write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest, plan


def _unseen_indices(chosen: list[tuple[int, Voice]], fraction: float, rng: np.random.Generator) -> set[int]:
    """About ``fraction`` of the speakers per engine, at least one of each engine that has two;
    none at all for ``fraction=0``."""
    unseen: set[int] = set()
    if fraction == 0.0:
        return unseen
    for engine in sorted({voice.engine for _, voice in chosen}):
        group = [index for index, voice in chosen if voice.engine == engine]
        if len(group) >= 2:
            count = min(max(math.floor(len(group) * fraction + 0.5), 1), len(group) - 1)
            unseen.update(int(i) for i in rng.choice(group, size=count, replace=False))
    if not unseen:  # every engine has a single speaker: still need an unseen one
        unseen.add(int(rng.choice([index for index, _ in chosen])))
    return unseen


def _missing(out: pathlib.Path, plan: list[_Speaker], utterances: int, seed: int) -> list[_Job]:
    """Utterances whose FLAC or transcript line is absent (an interrupted run leaves either)."""
    todo = []
    for speaker in plan:
        transcribed = _read_trans(speaker.trans_path(out))
        for utterance in range(utterances):
            uid = speaker.utterance_id(utterance)
            path = speaker.chapter_dir(out) / f"{uid}.flac"
            if uid not in transcribed or not path.is_file():
                todo.append(_Job(speaker.voice, speaker.index, utterance, seed, path))
    return todo


def _render_all(out: pathlib.Path, plan: list[_Speaker], todo: list[_Job], pool, progress: bool) -> None:
    """Render ``todo`` in parallel; the parent alone writes transcripts, after each FLAC lands."""
    by_dir = {speaker.chapter_dir(out): speaker for speaker in plan}
    transcripts = {speaker: _read_trans(speaker.trans_path(out)) for speaker in plan}
    for speaker in plan:
        speaker.chapter_dir(out).mkdir(parents=True, exist_ok=True)
    results = pool.imap_unordered(_render, todo)
    for path, text in tqdm(results, total=len(todo), disable=not progress, unit="utt", desc="synth"):
        speaker = by_dir[path.parent]
        lines = transcripts[speaker]
        lines[path.name.removesuffix(".flac")] = text
        _write_text(speaker.trans_path(out), "".join(f"{uid} {t}\n" for uid, t in sorted(lines.items())))


def _render(job: _Job) -> tuple[pathlib.Path, str]:
    """Synthesize one utterance of 3-6 s and write it as 16 kHz FLAC; return (path, transcript).

    Sentences are added while the audio is short (up to four) and swapped for others while
    it is too long; text is never cut mid-sentence, so the transcript stays exact.
    """
    rng = np.random.default_rng([job.seed, _UTTERANCE_STREAM, job.speaker_index, job.utterance])
    prosody = _prosody(job, rng)
    pad, gain_db = rng.uniform(0.1, 0.2), rng.uniform(-1.0, 1.0)
    sentences = _sentences()
    order: Iterator[int] = iter(rng.permutation(len(sentences)).tolist())
    chosen = [next(order), next(order)]
    for _ in range(_MAX_TRIES):
        text = " ".join(sentences[i] for i in chosen)
        audio = trim_silence(_resample(*_synthesize(job.voice, text, prosody)), pad=pad)
        seconds = len(audio) / SAMPLE_RATE
        if MIN_SECONDS <= seconds <= MAX_SECONDS:
            break
        if seconds < MIN_SECONDS and len(chosen) < 4:
            chosen.append(next(order))
        elif seconds > MAX_SECONDS and len(chosen) > 2:
            chosen[-1] = next(order)
        else:  # two are too long or four too short: slide on, so no sentence stays for good
            chosen = chosen[1:] + [next(order)]
    else:
        raise SynthesisError(
            f"{job.voice.name}: no {MIN_SECONDS:g}-{MAX_SECONDS:g} s utterance "
            f"in {_MAX_TRIES} tries (last {seconds:.2f} s)"
        )
    audio *= 10 ** ((-3.0 + gain_db) / 20) / np.abs(audio).max()
    with atomic_path(job.path) as tmp:
        sf.write(tmp, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return job.path, _transcript(text)


def _prosody(job: _Job, rng: np.random.Generator) -> list[str]:
    """Engine flags for a small rate and pitch change around the speaker's own habits.

    An espeak-ng or MBROLA speaker has its own base speed (150-175 wpm) jittered by +-10% per utterance,
    and pitch 50+-8. flite's f0_shift scales the voice's default F0 mean, whatever it is.
    """
    if job.voice.engine != "flite":
        base = np.random.default_rng([job.seed, _SPEAKER_STREAM, job.speaker_index]).uniform(150, 175)
        speed = round(base * rng.uniform(0.9, 1.1))
        return ["-s", str(speed), "-p", str(round(50 + rng.uniform(-8, 8)))]
    stretch, shift = rng.uniform(0.9, 1.1), rng.uniform(0.92, 1.08)
    return ["--setf", f"duration_stretch={stretch:.3f}", "--setf", f"f0_shift={shift:.3f}"]


def _synthesize(voice: Voice, text: str, prosody: list[str]) -> tuple[np.ndarray, int]:
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


def _resample(audio: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return audio
    g = math.gcd(SAMPLE_RATE, rate)
    return resample(audio, SAMPLE_RATE // g, rate // g)


def _transcript(text: str) -> str:
    """LibriSpeech style: upper case words and apostrophes, no punctuation."""
    return " ".join(re.sub(r"[^A-Z']+", " ", text.upper()).split())


def _sentences_text() -> str:
    return resources.files("mirnet.corpus").joinpath("sentences.txt").read_text(encoding="utf-8")


@cache
def _sentences() -> list[str]:
    return [line.strip() for line in _sentences_text().splitlines() if line.strip()]


def _tool_version(tool: str) -> str:
    lines = [line.strip() for line in _run_text([tool, "--version"]).splitlines() if line.strip()]
    return next((line for line in lines if "version" in line.lower()), lines[0] if lines else "unknown")


def _run_text(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr


def _read_manifest(out: pathlib.Path) -> dict | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    manifest["args"].setdefault("engines", list(DEFAULT_ENGINES))  # written before engines could be chosen
    return manifest


def _read_trans(path: pathlib.Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if line.strip())
    return {uid: text for uid, text in pairs}


def _write_text(path: pathlib.Path, text: str) -> None:
    """Lazy: an unchanged file keeps its mtime."""
    if not (path.is_file() and path.read_text() == text):
        write_text(path, text)


def _finish(out: pathlib.Path, manifest: dict, plan: list[_Speaker]) -> None:
    """Speaker tables and the completed manifest, with durations read from the written files."""
    rows = []
    for speaker in plan:
        files = sorted(speaker.chapter_dir(out).glob("*.flac"))
        minutes = sum(sf.info(f).duration for f in files) / 60
        rows.append((speaker, len(files), minutes))
    tsv = ["speaker\tsubset\tengine\tvoice\tlanguage\tgender\tutterances\tminutes"]
    txt = [
        "; Synthetic speakers of mirnet.corpus.synth: one synthesizer voice each.",
        "; Columns as in LibriSpeech SPEAKERS.TXT; SUBSET is seen (training) or unseen (held out).",
        ";ID    |SEX| SUBSET | MINUTES | NAME",
    ]
    for speaker, count, minutes in rows:
        v = speaker.voice
        tsv.append(
            f"{speaker.id}\t{speaker.subset}\t{v.engine}\t{v.name}\t{v.language}\t{v.gender}"
            f"\t{count}\t{minutes:.3f}"
        )
        txt.append(
            f"{speaker.id:<6}| {v.gender} | {speaker.subset:<6} | {minutes:7.3f} | {v.engine} {v.name}"
        )
    _write_text(out / "speakers.tsv", "\n".join(tsv) + "\n")
    _write_text(out / "SPEAKERS.TXT", "\n".join(txt) + "\n")
    for entry, (speaker, count, minutes) in zip(manifest["speakers"], rows):
        entry.update(speaker=speaker.id, utterances=count, minutes=round(minutes, 3))
    manifest["counts"] = {
        "speakers": len(plan),
        "seen": sum(s.subset == "seen" for s in plan),
        "unseen": sum(s.subset == "unseen" for s in plan),
        "utterances": sum(count for _, count, _ in rows),
        "minutes": round(sum(minutes for _, _, minutes in rows), 3),
    }
    manifest["complete"] = True
    _write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    log.info(
        "%s: %d speakers, %d utterances, %.1f minutes",
        out,
        len(plan),
        manifest["counts"]["utterances"],
        manifest["counts"]["minutes"],
    )
