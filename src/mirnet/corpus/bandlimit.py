"""Band-limited copies of a corpus: every utterance taken down to a lower sample rate and back
up to 16 kHz (8 kHz: the telephone band), the same speakers, ids and layout, so that every verb
and evaluation scores the same voices as a caller's low-rate audio reaches the models. A split
(``unseen/``) brings its parent's speaker table along, so its metadata stays."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import atomic_path, write_text
from ..audio import SAMPLE_RATE, load_audio, resample_rate
from ..errors import InputError
from ..progress import Progress, bars
from .librispeech import SPEAKER_TABLE, read_librispeech

log = logging.getLogger(__name__)

RECORD = "bandlimit.json"
AUDIO = ".flac"
LOWEST_RATE = 4000


def band_limit(wav, rate: int):
    """16-kHz ``wav`` with nothing above ``rate`` / 2: resampled to ``rate`` and back (the same
    polyphase filters as every other conversion here), same length."""
    out = resample_rate(resample_rate(wav, SAMPLE_RATE, rate), rate, SAMPLE_RATE)[: len(wav)]
    return np.pad(out, (0, len(wav) - len(out)))


def bandlimit_corpus(src: str | Path, out: str | Path, rate: int = 8000, progress: Progress = bars) -> Path:
    """Write ``src`` (a LibriSpeech-layout corpus or one of its splits) band-limited to ``rate``
    into ``out``: audio converted, every other file copied; resumable (files already there are
    kept), recorded in ``out/bandlimit.json``."""
    src, out = Path(src).resolve(), Path(out)
    if not LOWEST_RATE <= rate < SAMPLE_RATE:
        raise InputError(f"--rate: expected {LOWEST_RATE} to {SAMPLE_RATE - 1} Hz, got {rate}")
    if not src.is_dir():
        raise InputError(f"{src}: not a directory")
    if out.resolve() == src or src in out.resolve().parents:
        raise InputError(f"{out}: inside {src}; write the copy elsewhere")
    record = {"source": str(src), "rate": rate}
    if (out / RECORD).is_file():
        old = {k: json.loads((out / RECORD).read_text()).get(k) for k in record}
        if old != record:
            raise InputError(f"{out}: made with {old}, not {record}; use another folder")
    manifest = read_librispeech(src)
    if not len(manifest):
        raise InputError(f"{src}: no utterances in LibriSpeech layout")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / RECORD, json.dumps({**record, "complete": False}, indent=2) + "\n")
    for path in src.rglob("*"):
        dst = out / path.relative_to(src)
        if path.is_file() and path.suffix != AUDIO and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
    for table in (SPEAKER_TABLE, "SPEAKERS.TXT"):  # a split's table lives in its parent
        if not (src / table).is_file() and (src.parent / table).is_file() and not (out / table).exists():
            shutil.copy2(src.parent / table, out / table)
    todo = [u for u in manifest if not (out / Path(u.path).resolve().relative_to(src)).is_file()]
    for u in progress(todo, desc=f"band-limiting to {rate} Hz", unit="utt"):
        dst = out / Path(u.path).resolve().relative_to(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dst) as tmp:
            sf.write(tmp, band_limit(load_audio(u.path), rate), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    write_text(
        out / RECORD, json.dumps({**record, "complete": True, "utterances": len(manifest)}, indent=2) + "\n"
    )
    log.info(
        "%s: %d utterances of %d speakers, band-limited to %d Hz",
        out,
        len(manifest),
        len(manifest.speakers),
        rate,
    )
    return out
