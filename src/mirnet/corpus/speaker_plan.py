"""Which voices become the corpus's speakers, and which of them are held out as unseen."""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass

import numpy as np

from mirnet.errors import InputError

from .voices import Voice, installed_voices, probe_voices

_SPEAKER_ID_BASE = 1000


@dataclass(frozen=True)
class Speaker:
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


def plan_speakers(
    voices: list[str] | None,
    speakers: int | None,
    unseen_fraction: float,
    engines: tuple[str, ...],
    rng: np.random.Generator,
    pool,
) -> tuple[list[Speaker], dict[str, str]]:
    """Probe, select and split the speakers; also {voice: why it was skipped}."""
    installed = installed_voices(engines)
    candidates = installed
    if voices is not None:
        unknown = sorted(set(voices) - {v.name for v in installed})
        if unknown:
            raise InputError(f"unknown voices {unknown}; installed: {[v.name for v in installed]}")
        candidates = [v for v in installed if v.name in voices]
    working, skipped = probe_voices(candidates, installed, pool)
    if len(working) < 2:
        raise InputError(
            f"need at least 2 working voices among {[v.name for v in candidates]}, "
            f"got {[v.name for _, v in working]}; skipped: {skipped}"
        )
    working = [working[i] for i in rng.permutation(len(working))]
    if speakers is not None and speakers > len(working):
        raise InputError(f"speakers={speakers} but only {len(working)} voices work")
    chosen = sorted(working[:speakers])
    unseen = _unseen_indices(chosen, unseen_fraction, rng)
    return [
        Speaker(voice, index, "unseen" if index in unseen else "seen") for index, voice in chosen
    ], skipped


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
