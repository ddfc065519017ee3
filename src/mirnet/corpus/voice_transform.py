"""New training voices from a corpus's own: each copy of a speaker has its pitch and its
formants moved by factors of its own, through the WORLD vocoder (``pyworld``).

Speed perturbation moves pitch and formants together, as a faster tape does. WORLD separates
the source (F0) from the filter (the spectral envelope), so a copy can have a higher voice in a
longer vocal tract, which no resampling gives: a voice the corpus did not have. The copies form a
LibriSpeech-layout tree of their own, ``<spk>w<k>/<chapter>/...``, and a manifest whose
utterances name the one each was made from (``meta["derived_from"]``), used beside the original
as ``data.train: [data/corpus/seen, data/transformed/manifest.jsonl]``: a copy of a held-out
utterance is then held out too (``data.mixing.split_utterances``).
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import atomic_path, write_text
from ..audio import SAMPLE_RATE, load_audio
from ..errors import InputError
from ..progress import Progress, bars
from .librispeech import read_librispeech
from .manifest import Manifest

log = logging.getLogger(__name__)

PITCH_RANGE = (0.7, 1.45)  # F0 factor, drawn log-uniform per copy
FORMANT_RANGE = (0.86, 1.16)  # spectral-envelope frequency factor (a shorter tract is > 1)
_NEAR = (math.log(1.12), math.log(1.05))  # a copy this close to the voice in both is drawn again
_FRAME_MS = 5.0
RECORD = "transform.json"
MANIFEST = "manifest.jsonl"  # the copies, each naming the utterance it was made from


@dataclass(frozen=True)
class VoiceCopy:
    source: str  # speaker id it is made from
    copy: int  # 1..copies
    pitch: float
    formant: float

    @property
    def speaker(self) -> str:
        return f"{self.source}w{self.copy}"


def draw_copies(speaker: str, copies: int, seed: int) -> list[VoiceCopy]:
    """``copies`` (pitch, formant) pairs for ``speaker``: a function of (seed, speaker id) alone,
    so a copy is the same voice whichever other speakers a corpus holds."""
    out = []
    for k in range(1, copies + 1):
        rng = np.random.default_rng([seed, zlib.crc32(speaker.encode()), k])
        while True:
            p, f = (float(np.exp(rng.uniform(*np.log(r)))) for r in (PITCH_RANGE, FORMANT_RANGE))
            if abs(math.log(p)) >= _NEAR[0] or abs(math.log(f)) >= _NEAR[1]:
                break
        out.append(VoiceCopy(speaker, k, round(p, 4), round(f, 4)))
    return out


def transform_voice(wav: np.ndarray, sample_rate: int, pitch: float, formant: float) -> np.ndarray:
    """``wav`` re-synthesised with F0 times ``pitch`` and its spectral envelope stretched along
    frequency by ``formant``; same length, same peak level."""
    return _Analysis(wav, sample_rate).synthesize(pitch, formant)


class _Analysis:
    """WORLD's F0 (DIO + StoneMask), envelope (CheapTrick) and aperiodicity (D4C) of one
    utterance: computed once, re-synthesised for every copy."""

    def __init__(self, wav: np.ndarray, sample_rate: int):
        import pyworld

        self.pw, self.sr, self.n = pyworld, sample_rate, len(wav)
        self.peak = float(np.abs(wav).max())
        x = np.ascontiguousarray(wav, dtype=np.float64)
        f0, t = pyworld.dio(x, sample_rate, frame_period=_FRAME_MS)
        self.f0 = pyworld.stonemask(x, f0, t, sample_rate)
        self.sp = pyworld.cheaptrick(x, self.f0, t, sample_rate)
        self.ap = pyworld.d4c(x, self.f0, t, sample_rate)

    def synthesize(self, pitch: float, formant: float) -> np.ndarray:
        bins = self.sp.shape[1]
        # the new envelope at frequency f is the old one at f / formant (edges held)
        src = np.clip(np.arange(bins) / formant, 0, bins - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, bins - 1)
        w = src - lo
        sp = self.sp[:, lo] * (1 - w) + self.sp[:, hi] * w
        y = self.pw.synthesize(self.f0 * pitch, np.ascontiguousarray(sp), self.ap, self.sr, _FRAME_MS)
        y = np.pad(y, (0, max(0, self.n - len(y))))[: self.n]
        return (y * self.peak / max(float(np.abs(y).max()), 1e-9)).astype(np.float32)


def _copy_id(utt_id: str, copy: VoiceCopy) -> str:
    """``<spk>-<chapter>-<utt>`` -> ``<spk>w<k>-<chapter>-<utt>``: the copy keeps its chapter and number."""
    return copy.speaker + utt_id[len(copy.source) :]


def _paths(utt_id: str, out: Path, copy: VoiceCopy) -> Path:
    chapter = utt_id.split("-")[1]
    return out / copy.speaker / chapter / f"{_copy_id(utt_id, copy)}.flac"


def _render(job: tuple[str, str, list[VoiceCopy], str]) -> str:
    utt_id, path, copies, out = job
    wav = load_audio(path)
    analysis = _Analysis(wav, SAMPLE_RATE)
    for copy in copies:
        dst = _paths(utt_id, Path(out), copy)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dst) as tmp:
            sf.write(
                tmp,
                analysis.synthesize(copy.pitch, copy.formant),
                SAMPLE_RATE,
                format="FLAC",
                subtype="PCM_16",
            )
    return utt_id


def transform_corpus(
    src: str | Path, out: str | Path, copies: int = 2, seed: int = 0, jobs: int = 2, progress: Progress = bars
) -> Manifest:
    """Write ``copies`` transformed voices of every speaker of the LibriSpeech-layout tree ``src``
    into ``out``; resumable (files already there are kept), recorded in ``out/transform.json``,
    listed in ``out/manifest.jsonl``. Run again with more ``copies``, it adds the new ones: copy k
    of a speaker is the same voice whatever the count."""
    src, out = Path(src), Path(out)
    if copies < 1:
        raise InputError(f"--copies: expected at least 1, got {copies}")
    record = {"source": str(src), "seed": seed}  # copies may change: copy k is the same voice for any count
    previous = out / RECORD
    if previous.is_file():
        old = {k: json.loads(previous.read_text()).get(k) for k in record}
        if old != record:
            raise InputError(f"{out}: made with {old}, not {record}; use another folder")
    record["copies"] = copies
    manifest = read_librispeech(src, jobs=jobs)
    plan = {spk: draw_copies(spk, copies, seed) for spk in manifest.speakers}
    todo = [
        (u.id, u.path, missing, str(out))
        for u in manifest
        if (missing := [c for c in plan[u.speaker] if not _paths(u.id, out, c).is_file()])
    ]
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / RECORD, json.dumps({**record, "complete": False}, indent=2) + "\n")
    with get_context("spawn").Pool(jobs) as pool:
        for _ in progress(pool.imap_unordered(_render, todo), total=len(todo), unit="utt", desc="transform"):
            pass
    _write_transcripts(src, out, manifest, plan)
    voices = [c.__dict__ | {"speaker": c.speaker} for cs in plan.values() for c in cs]
    write_text(out / RECORD, json.dumps({**record, "complete": True, "voices": voices}, indent=2) + "\n")
    source_of = {c.speaker: c.source for cs in plan.values() for c in cs}
    result = Manifest(
        (
            replace(u, meta={"derived_from": source_of[u.speaker] + u.id[len(u.speaker) :]})
            for u in read_librispeech(out, jobs=jobs)
            if u.speaker in source_of
        ),
        source=str(out / MANIFEST),
    )
    result.save(out / MANIFEST)
    log.info("%s: %d voices from %d, %d utterances", out, len(result.speakers), len(plan), len(result))
    return result


def _write_transcripts(src: Path, out: Path, manifest: Manifest, plan: dict[str, list[VoiceCopy]]) -> None:
    """Each copy's chapter gets its source chapter's transcript lines, renamed to its own ids."""
    chapters = {(u.speaker, Path(u.path).parent) for u in manifest}
    for speaker, folder in sorted(chapters):
        trans = folder / f"{speaker}-{folder.name}.trans.txt"
        if not trans.is_file():
            continue
        lines = [line.split(" ", 1) for line in trans.read_text().splitlines() if " " in line]
        for copy in plan[speaker]:
            renamed = "".join(f"{_copy_id(uid, copy)} {text}\n" for uid, text in lines)
            write_text(out / copy.speaker / folder.name / f"{copy.speaker}-{folder.name}.trans.txt", renamed)
