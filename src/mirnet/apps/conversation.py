"""Long synthetic conversations to measure diarization on: turns of a corpus's voices with pauses
and a controlled share of overlapped speech, each WAV with its ground-truth RTTM beside it.

Each turn is one utterance, trimmed to its speech (so the RTTM marks speech, not the synthesizer's
silence), at a level drawn within +-3 dB. A turn starts after a pause, or, while the overlapped
share of the speech so far is below the target, before the previous turn has ended (by 30-90% of
the shorter of the two). Consecutive turns have different speakers. Conversation i is a function
of (seed, i) alone, so one conversation can be rebuilt without the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..audio import SAMPLE_RATE, load_audio, save_audio, trim_silence
from ..corpus.manifest import Manifest
from ..errors import CorpusError
from ..progress import Progress, bars

INDEX = "conversations.jsonl"


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float  # seconds
    end: float


def write_rttm(path: str | Path, uri: str, turns: list[Turn]) -> Path:
    """NIST RTTM: one SPEAKER line per turn."""
    lines = [
        f"SPEAKER {uri} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>" for t in turns
    ]
    return write_text(path, "\n".join(lines) + "\n")


def talking_seconds(turns: list[Turn], at_least: int = 1) -> float:
    """Time during which ``at_least`` turns run at once: speech (1), overlapped speech (2)."""
    edges = sorted([(t.start, 1) for t in turns] + [(t.end, -1) for t in turns])
    active, last, total = 0, 0.0, 0.0
    for time, step in edges:
        if active >= at_least:
            total += time - last
        active, last = active + step, time
    return total


def conversation(
    manifest: Manifest, n_speakers: int, minutes: float, overlap: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[Turn]]:
    """One conversation of ``n_speakers`` voices of ``manifest``: (waveform at 16 kHz, turns)."""
    by_speaker: dict[str, list] = {}
    for u in manifest:
        by_speaker.setdefault(u.speaker, []).append(u)
    if len(by_speaker) < n_speakers:
        raise CorpusError(f"{manifest.source}: {len(by_speaker)} speakers, a conversation needs {n_speakers}")
    speakers = list(rng.choice(sorted(by_speaker), n_speakers, replace=False))
    total = minutes * 60
    turns: list[Turn] = []
    pieces: list[tuple[int, np.ndarray]] = []
    prev = None
    while not turns or turns[-1].end < total:
        speaker = str(rng.choice([s for s in speakers if s != prev]))
        utt = by_speaker[speaker][rng.integers(len(by_speaker[speaker]))]
        wav = trim_silence(load_audio(utt.path), floor_db=-40.0)
        wav = wav / (np.sqrt(np.mean(wav**2)) + 1e-8) * 0.05 * 10 ** (rng.uniform(-3, 3) / 20)
        dur = len(wav) / SAMPLE_RATE
        if not turns:
            start = rng.uniform(0.2, 1.0)
        elif talking_seconds(turns, 2) < overlap * talking_seconds(turns):
            last = turns[-1]
            start = last.end - rng.uniform(0.3, 0.9) * min(last.end - last.start, dur)
        else:
            start = turns[-1].end + rng.uniform(0.2, 1.0)
        turns.append(Turn(speaker, start, start + dur))
        pieces.append((round(start * SAMPLE_RATE), wav))
        prev = speaker
    length = max(at + len(w) for at, w in pieces) + SAMPLE_RATE // 2
    out = np.zeros(length, np.float32)
    for at, w in pieces:
        out[at : at + len(w)] += w
    peak = np.abs(out).max()
    if peak > 0.99:
        out *= 0.99 / peak
    turns = [Turn(t.speaker, round(t.start, 3), round(t.end, 3)) for t in turns]
    return out, turns


def make_conversations(
    manifest: Manifest,
    out: str | Path,
    *,
    speakers: tuple[int, int] = (2, 4),
    conversations: int = 12,
    minutes: float = 4.0,
    overlap: float = 0.2,
    seed: int = 0,
    progress: Progress = bars,
) -> Path:
    """``conversations`` files, the speaker counts cycling through ``speakers`` (inclusive), and
    ``OUT/conversations.jsonl`` indexing them; an existing file is kept (the run resumes)."""
    lo, hi = speakers
    if not 1 <= lo <= hi:
        raise CorpusError(f"--speakers: expected LOW..HIGH with 1 <= LOW <= HIGH, got {lo}..{hi}")
    if not 0 <= overlap < 1:
        raise CorpusError(f"--overlap: expected a share in [0, 1), got {overlap}")
    out = Path(out)
    rows = []
    for i in progress(range(conversations), desc="conversations"):
        uri = f"conv{i:03d}"
        wav_path, rttm_path = out / f"{uri}.wav", out / f"{uri}.rttm"
        n = lo + i % (hi - lo + 1)
        if not (wav_path.exists() and rttm_path.exists()):
            wav, turns = conversation(manifest, n, minutes, overlap, np.random.default_rng([seed, i]))
            save_audio(wav_path, wav)
            write_rttm(rttm_path, uri, turns)
        rows.append({"uri": uri, "wav": wav_path.name, "rttm": rttm_path.name, "speakers": n})
    meta = {"source": str(manifest.source), "seed": seed, "minutes": minutes, "overlap": overlap}
    write_text(out / INDEX, "".join(json.dumps({**r, **meta}) + "\n" for r in rows))
    return out
