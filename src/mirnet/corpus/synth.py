"""Synthesize the default speech corpus: one synthesizer voice (``voices``) is one speaker
(``speaker_plan``), and every utterance is rendered here. The output (``corpus_layout``) uses
the LibriSpeech layout (``seen``/``unseen`` instead of LibriSpeech's subsets), so the reader
written for real LibriSpeech reads it unchanged. Every utterance is a pure function of (seed,
voice, utterance index), which makes parallel work, resuming and caching safe: a file written
twice comes out byte-identical.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import pathlib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources

import numpy as np
import soundfile as sf

from mirnet.atomic import atomic_path
from mirnet.audio import SAMPLE_RATE, trim_silence
from mirnet.errors import InputError

from ..progress import Progress, bars
from .corpus_layout import MANIFEST, finish, read_manifest, read_trans, write_if_changed
from .speaker_plan import Speaker, plan_speakers
from .voices import (
    DEFAULT_ENGINES,
    MAX_SECONDS,
    TOOLS,
    SynthesisError,
    Voice,
    check_engines,
    require_tools,
    synthesize,
    to_sample_rate,
    tool_version,
    worker_pool,
)

log = logging.getLogger(__name__)

MIN_SECONDS = 3.0  # utterances last MIN_SECONDS to MAX_SECONDS
FORMAT_VERSION = 2  # bump whenever the same arguments would give different audio

_MAX_TRIES = 200  # attempts per utterance before giving up on the 3-6 s window (a slow voice can need
# many more than 40 over hundreds of utterances; each try draws one new sentence of the 253)
# Tags keep the per-purpose random streams apart: numpy seeds [s], [s, 0] and s are identical.
_SPLIT_STREAM, _SPEAKER_STREAM, _UTTERANCE_STREAM = 0, 1, 2


@dataclass(frozen=True)
class _Job:
    voice: Voice
    speaker_index: int
    utterance: int
    seed: int
    path: pathlib.Path


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
    progress: Progress = bars,
) -> pathlib.Path:
    """Write (or complete) the corpus in ``out_dir`` and return its path.

    A complete corpus made with the same arguments is returned untouched; a partial one is
    resumed by synthesizing only the missing utterances. ``unseen_fraction=0`` puts every
    speaker in ``seen``: a corpus of extra training speakers.
    """
    engines = check_engines(engines)
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
    manifest = read_manifest(out)
    if manifest is not None and manifest["args"] != args:
        raise FileExistsError(
            f"{out} holds a corpus made with other arguments ({manifest['args']}); "
            "delete it or choose another directory"
        )
    if manifest is not None:
        plan = [Speaker(Voice(**s["voice"]), s["index"], s["subset"]) for s in manifest["speakers"]]
        todo = _missing(out, plan, utterances, seed)
        if manifest["complete"] and not todo:
            log.info("%s: complete corpus with the same arguments, nothing to do", out)
            return out
    require_tools(engines)
    with worker_pool(jobs) as pool:
        if manifest is None:
            manifest, plan = _plan(out, args, voices, speakers, seed, unseen_fraction, engines, pool)
            todo = _missing(out, plan, utterances, seed)
        log.info("%s: synthesizing %d utterances for %d speakers", out, len(todo), len(plan))
        _render_all(out, plan, todo, pool, progress)
    finish(out, manifest, plan)
    return out


def _plan(
    out: pathlib.Path,
    args: dict,
    voices: list[str] | None,
    speakers: int | None,
    seed: int,
    unseen_fraction: float,
    engines: tuple[str, ...],
    pool,
) -> tuple[dict, list[Speaker]]:
    """The speakers, recorded in a first, incomplete manifest."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM])
    plan, skipped = plan_speakers(voices, speakers, unseen_fraction, engines, rng, pool)
    tools = sorted({TOOLS[s.voice.engine][0] for s in plan})
    manifest = {
        "format": FORMAT_VERSION,
        "complete": False,
        "args": args,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "engines": {tool: tool_version(tool) for tool in tools},
        "voices_used": [s.voice.name for s in plan],
        "voices_skipped": skipped,
        "speakers": [{"voice": asdict(s.voice), "index": s.index, "subset": s.subset} for s in plan],
    }
    out.mkdir(parents=True, exist_ok=True)
    write_if_changed(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest, plan


def _missing(out: pathlib.Path, plan: list[Speaker], utterances: int, seed: int) -> list[_Job]:
    """Utterances whose FLAC or transcript line is absent (an interrupted run leaves either)."""
    todo = []
    for speaker in plan:
        transcribed = read_trans(speaker.trans_path(out))
        for utterance in range(utterances):
            uid = speaker.utterance_id(utterance)
            path = speaker.chapter_dir(out) / f"{uid}.flac"
            if uid not in transcribed or not path.is_file():
                todo.append(_Job(speaker.voice, speaker.index, utterance, seed, path))
    return todo


def _render_all(out: pathlib.Path, plan: list[Speaker], todo: list[_Job], pool, progress: Progress) -> None:
    """Render ``todo`` in parallel; the parent alone writes transcripts, after each FLAC lands."""
    by_dir = {speaker.chapter_dir(out): speaker for speaker in plan}
    transcripts = {speaker: read_trans(speaker.trans_path(out)) for speaker in plan}
    for speaker in plan:
        speaker.chapter_dir(out).mkdir(parents=True, exist_ok=True)
    results = pool.imap_unordered(_render, todo)
    for path, text in progress(results, total=len(todo), unit="utt", desc="synth"):
        speaker = by_dir[path.parent]
        lines = transcripts[speaker]
        lines[path.name.removesuffix(".flac")] = text
        write_if_changed(speaker.trans_path(out), "".join(f"{uid} {t}\n" for uid, t in sorted(lines.items())))


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
        audio = trim_silence(to_sample_rate(*synthesize(job.voice, text, prosody)), pad=pad)
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


def _transcript(text: str) -> str:
    """LibriSpeech style: upper case words and apostrophes, no punctuation."""
    return " ".join(re.sub(r"[^A-Z']+", " ", text.upper()).split())


def _sentences_text() -> str:
    return resources.files("mirnet.corpus").joinpath("sentences.txt").read_text(encoding="utf-8")


@cache
def _sentences() -> list[str]:
    return [line.strip() for line in _sentences_text().splitlines() if line.strip()]
