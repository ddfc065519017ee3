"""The setting of a trial list (paper section 4.1.2's protocol), kept free of torch so that the
CLI offers its options without loading it."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..data.mixing import MixingConfig


@dataclass(frozen=True)
class TrialSetting:
    """How one trial list is drawn: the one type behind `mirnet eval`'s flags, ``evaluate``'s
    arguments, the report's settings, the commands it prints and the records of results and
    trial lists, so that a printed command draws the very trials it names."""

    data: str
    trials: int = 1000
    seed: int = 0
    heldout: bool = False
    sir_db: float = 0.0
    overlap: float = 1.0
    crop_seconds: float = 3.0
    n_speakers: int = 2

    # field -> its `mirnet eval` option, in the order commands print them
    FLAGS: ClassVar[dict[str, str]] = {
        "data": "--data",
        "trials": "--trials",
        "sir_db": "--sir",
        "overlap": "--overlap",
        "crop_seconds": "--crop",
        "n_speakers": "--speakers",
        "seed": "--seed",
        "heldout": "--heldout",
    }
    # the order of a record's keys: trial lists hash their bytes, so it must never change
    _RECORD = ("data", "trials", "sir_db", "overlap", "seed", "crop_seconds", "n_speakers", "heldout")

    def __post_init__(self):
        object.__setattr__(self, "data", str(self.data))  # a Path is recorded as the text it names

    @property
    def name(self) -> str:
        corpus = Path(self.data).name + ("-heldout" if self.heldout else "")
        return (
            f"{corpus}_n{self.trials}_seed{self.seed}_sir{self.sir_db:g}_overlap{self.overlap:g}"
            f"_crop{self.crop_seconds:g}_spk{self.n_speakers}"
        )

    def mixing(self) -> MixingConfig:
        from ..data.mixing import MixingConfig  # here: the CLI builds its options without torch

        return MixingConfig(
            self.n_speakers, self.crop_seconds, (self.sir_db, self.sir_db), (self.overlap, self.overlap)
        )

    def record(self) -> dict:
        return {k: getattr(self, k) for k in self._RECORD}

    @classmethod
    def from_record(cls, record: dict, **override) -> TrialSetting:
        """From a result or a trial list's meta; keys an older record lacks take their defaults."""
        types = {f.name: f.type for f in fields(cls)}
        kept = {
            k: float(v) if types[k] == "float" else v
            for k, v in record.items()
            if k in types and v is not None
        }
        return replace(cls(**kept), **override)

    def flags(self) -> list[str]:
        out = []
        for key, flag in self.FLAGS.items():
            value = getattr(self, key)
            if isinstance(value, bool):
                out += [flag] if value else []
            else:
                out.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
        return out
