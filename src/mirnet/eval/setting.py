"""How an evaluation's mixtures are drawn: a trial list's (paper section 4.1.2's protocol) or a
separation evaluation's (section 4.2). One type each behind the CLI's options, the evaluation's
arguments, the report's settings, the commands it prints and the records of results and trial
lists, so that a printed command draws the very mixtures it names. Kept free of torch, so that
the CLI offers its options without loading it."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..data.mixing import MixingConfig


class _Setting:
    """What both settings do with their fields."""

    FLAGS: ClassVar[dict[str, str]]  # field -> its command-line option, in the order commands print them
    RECORD: ClassVar[tuple[str, ...]]  # the fields a result records, in order
    overlap: float

    def __post_init__(self):
        object.__setattr__(self, "data", str(self.data))  # a Path is recorded as the text it names

    def mixing(self) -> MixingConfig:
        from ..data.mixing import MixingConfig  # here: the CLI builds its options without torch

        return MixingConfig(
            self.n_speakers, self.crop_seconds, (self.sir_db, self.sir_db), (self.overlap, self.overlap)
        )

    def record(self) -> dict:
        return {k: getattr(self, k) for k in self.RECORD}

    @classmethod
    def from_record(cls, record: dict, **override):
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

    def _corpus(self) -> str:
        return Path(self.data).name + ("-heldout" if self.heldout else "")


@dataclass(frozen=True)
class TrialSetting(_Setting):
    """How one trial list of `mirnet eval` is drawn."""

    data: str
    trials: int = 1000
    seed: int = 0
    heldout: bool = False
    sir_db: float = 0.0
    overlap: float = 1.0
    crop_seconds: float = 3.0
    n_speakers: int = 2

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
    # a trial list's meta holds these in this order, and lists hash their bytes: never reorder
    RECORD: ClassVar[tuple[str, ...]] = (
        "data",
        "trials",
        "sir_db",
        "overlap",
        "seed",
        "crop_seconds",
        "n_speakers",
        "heldout",
    )

    @property
    def name(self) -> str:
        return (
            f"{self._corpus()}_n{self.trials}_seed{self.seed}_sir{self.sir_db:g}_overlap{self.overlap:g}"
            f"_crop{self.crop_seconds:g}_spk{self.n_speakers}"
        )


@dataclass(frozen=True)
class MixtureSetting(_Setting):
    """How the mixtures of `mirnet eval-separation` are drawn: mixture i from rng (seed, i), so
    every separator scored under one setting hears the very same mixtures."""

    data: str
    n: int = 200
    seed: int = 0
    heldout: bool = False
    sir_db: float = 0.0
    crop_seconds: float = 3.0
    n_speakers: int = 2

    overlap: ClassVar[float] = 1.0  # separation is scored on fully overlapped mixtures
    FLAGS: ClassVar[dict[str, str]] = {
        "data": "--data",
        "n": "--n",
        "n_speakers": "--speakers",
        "sir_db": "--sir",
        "crop_seconds": "--crop",
        "seed": "--seed",
        "heldout": "--heldout",
    }
    RECORD: ClassVar[tuple[str, ...]] = ("data", "heldout", "n_speakers", "sir_db", "crop_seconds", "seed")

    @property
    def name(self) -> str:
        return (
            f"{self._corpus()}_n{self.n}_seed{self.seed}_sir{self.sir_db:g}_crop{self.crop_seconds:g}"
            f"_spk{self.n_speakers}"
        )
