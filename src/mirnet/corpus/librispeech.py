"""Read any tree in LibriSpeech layout (``<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac``),
real LibriSpeech or the synthesized default corpus, into a Manifest."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from ..audio import AudioError, audio_info
from .manifest import Manifest, Utterance

log = logging.getLogger(__name__)
_NAME = re.compile(r"^([^-/]+)-([^-/]+)-([^-/]+)\.(flac|wav)$", re.IGNORECASE)


def read_librispeech(root: str | Path) -> Manifest:
    """Every ``<spk>-<chapter>-<utt>`` file under ``root`` whose two parent folders are
    ``<spk>/<chapter>``; unreadable files are skipped with one warning listing them."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    utts, bad = [], []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in (".flac", ".wav")):
        m = _NAME.match(path.name)
        if not m or path.parent.name != m.group(2) or path.parent.parent.name != m.group(1):
            continue
        try:
            frames, sr = audio_info(path)
        except AudioError as exc:
            bad.append(str(exc))
            continue
        if frames == 0:
            bad.append(f"{path}: empty audio (0 samples)")
            continue
        utts.append(Utterance(id=path.stem, speaker=m.group(1), path=str(path.resolve()),
                              num_samples=frames, sample_rate=sr))
    if bad:
        log.warning("skipped %d unreadable file(s) under %s:\n  %s", len(bad), root, "\n  ".join(bad))
    if not utts:
        raise FileNotFoundError(f"{root}: no LibriSpeech-layout audio (<spk>/<chapter>/<spk>-<chapter>-<utt>.flac)")
    return Manifest(utts, source=str(root))
