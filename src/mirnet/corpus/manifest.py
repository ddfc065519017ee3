"""A speaker-indexed list of utterances: what every corpus reader produces and the data
pipeline consumes. Stored as JSON lines (one utterance per line) so it diffs and streams.

A line holds ``id``, ``speaker``, ``path``, ``num_samples`` (at the file's own rate),
``sample_rate``, ``duration`` (seconds; written for readers, recomputed on load) and, where the
corpus knows more, ``meta``: string fields such as ``gender`` and ``subset``. Lines without
``duration`` or ``meta`` (older manifests) load unchanged."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from ..atomic import atomic_path
from ..errors import CorpusError

T = TypeVar("T")


@dataclass(frozen=True)
class Utterance:
    id: str
    speaker: str
    path: str
    num_samples: int  # at the file's own rate
    sample_rate: int
    meta: dict[str, str] = field(default_factory=dict, hash=False)  # e.g. gender, subset

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate

    def to_dict(self) -> dict:
        d = {
            "id": self.id,
            "speaker": self.speaker,
            "path": self.path,
            "num_samples": self.num_samples,
            "sample_rate": self.sample_rate,
            "duration": round(self.duration, 4),
        }
        return {**d, "meta": self.meta} if self.meta else d

    @classmethod
    def from_dict(cls, d: dict) -> Utterance:
        return cls(**{k: v for k, v in d.items() if k != "duration"})


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

    @classmethod
    def join(cls, parts: list[Manifest]) -> Manifest:
        """One manifest of disjoint corpora; a speaker in two of them is an error, since the same
        ID in two trees is as likely two people as one."""
        owner: dict[str, str] = {}
        for part in parts:
            for speaker in part.speakers:
                if speaker in owner:
                    raise CorpusError(
                        f"speaker {speaker} is in both {owner[speaker]} and {part.source}; "
                        "corpora trained on together must have distinct speaker IDs"
                    )
                owner[speaker] = part.source
        return cls([u for part in parts for u in part], source=" + ".join(part.source for part in parts))

    @property
    def speakers(self) -> list[str]:
        return list(self.by_speaker)

    @cached_property
    def index(self) -> dict[str, Utterance]:
        """Utterances by id: what rendering a drawn mixture looks its sources up in."""
        return {u.id: u for u in self.utterances}

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    def filter(
        self,
        *,
        min_seconds: float = 0.0,
        speakers: Iterable[str] | None = None,
        min_utterances: int = 1,
        subsets: Iterable[str] | None = None,
    ) -> Manifest:
        """Keep utterances long enough to crop, optionally from some speakers or corpus subsets
        (``meta["subset"]``, e.g. LibriSpeech's training subsets), and drop speakers with too few
        utterances for the trial protocol (which needs two per speaker)."""
        keep = set(speakers) if speakers is not None else None
        parts = set(subsets) if subsets is not None else None
        utts = [
            u
            for u in self.utterances
            if u.duration >= min_seconds
            and (keep is None or u.speaker in keep)
            and (parts is None or u.meta.get("subset") in parts)
        ]
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
        return write_jsonl(path, (u.to_dict() for u in self.utterances))

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        return cls(read_jsonl(path, Utterance.from_dict), source=str(path))


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Atomically (temp file + rename): an interrupted write leaves the previous file or none."""
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def read_jsonl(path: str | Path, parse: Callable[[dict], T]) -> list[T]:
    """Every non-blank line through ``parse``; a line it rejects is an error naming file and line."""
    path = Path(path)
    rows = []
    with path.open() as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(parse(json.loads(line)))
            except (json.JSONDecodeError, TypeError, KeyError, ValueError, AttributeError) as exc:
                raise CorpusError(f"{path}:{lineno}: not a line of this manifest ({exc})") from None
    return rows
