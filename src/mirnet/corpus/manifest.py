"""A speaker-indexed list of utterances: what every corpus reader produces and the data
pipeline consumes. Stored as JSON lines (one utterance per line) so it diffs and streams."""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator


@dataclass(frozen=True)
class Utterance:
    id: str
    speaker: str
    path: str
    num_samples: int  # at the file's own rate
    sample_rate: int

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate


class Manifest:
    """Utterances grouped by speaker, in a deterministic (sorted) order so seeds mean the same
    thing on every machine."""

    def __init__(self, utterances: Iterable[Utterance], source: str = ""):
        self.utterances = sorted(utterances, key=lambda u: (u.speaker, u.id))
        self.source = source
        groups: dict[str, list[Utterance]] = defaultdict(list)
        for utt in self.utterances:
            groups[utt.speaker].append(utt)
        self.by_speaker = dict(sorted(groups.items()))

    @property
    def speakers(self) -> list[str]:
        return list(self.by_speaker)

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    def filter(self, *, min_seconds: float = 0.0, speakers: Iterable[str] | None = None,
               min_utterances: int = 1) -> "Manifest":
        """Keep utterances long enough to crop, optionally from some speakers, and drop speakers
        with too few utterances for the trial protocol (which needs two per speaker)."""
        keep = set(speakers) if speakers is not None else None
        utts = [u for u in self.utterances
                if u.duration >= min_seconds and (keep is None or u.speaker in keep)]
        counts: dict[str, int] = defaultdict(int)
        for u in utts:
            counts[u.speaker] += 1
        return Manifest([u for u in utts if counts[u.speaker] >= min_utterances], self.source)

    def fingerprint(self) -> str:
        """Short hash of ids and sizes: data provenance stored in checkpoints and reports."""
        h = hashlib.sha1()
        for u in self.utterances:
            h.update(f"{u.id}\t{u.speaker}\t{u.num_samples}\n".encode())
        return h.hexdigest()[:12]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w") as f:
            for u in self.utterances:
                f.write(json.dumps(asdict(u)) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        utts = []
        with path.open() as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    utts.append(Utterance(**json.loads(line)))
                except (json.JSONDecodeError, TypeError) as exc:
                    raise ValueError(f"{path}:{lineno}: not a manifest line ({exc})") from None
        return cls(utts, source=str(path))
