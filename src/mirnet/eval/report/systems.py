"""What a report scores: systems named on the command line, the epochs a run kept, and the
axes it sweeps."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ..peers import PEERS

SWEEPS = {
    "sir": ("sir_db", (-5.0, 0.0, 5.0), "SIR of the first source (dB)"),
    "overlap": ("overlap", (0.25, 0.5, 1.0), "overlap ratio"),
    "crop": ("crop_seconds", (1.0, 2.0, 3.0, 5.0), "mixture length (s)"),
    "speakers": ("n_speakers", (2, 3), "speakers per mixture"),
}


@dataclass(frozen=True)
class System:
    label: str
    path: str

    @property
    def is_peer(self) -> bool:
        return self.path in PEERS


def parse_systems(specs: Sequence[str], noun: str = "system") -> list[System]:
    """``LABEL=PATH`` or ``PATH`` (labelled by its folder, or a peer's name); labels must differ
    because they name the result folders and the table rows. ``noun`` names them in errors."""
    systems = []
    for spec in specs:
        label, _, path = spec.rpartition("=")
        if not label:
            p = Path(path)
            label = path if path in PEERS else (p.parent.name if p.suffix == ".pt" else p.name)
        systems.append(System(label, path))
    labels = [s.label for s in systems]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise InputError(f"{noun}s share the label(s) {', '.join(dupes)}; name them LABEL=PATH")
    if not systems:
        raise InputError(f"no {noun} to report on")
    return systems


def epoch_models(run: str | Path) -> list[tuple[int, float, Path]]:
    """(epoch, minutes trained, model file) for every epoch a run kept (``train.keep_epoch_models``),
    the minutes read from its ``epochs.csv``."""
    run = Path(run)
    files = {int(f.stem[len("epoch") :]): f for f in sorted((run / "epochs").glob("epoch*.pt"))}
    if not files:
        raise InputError(f"{run}: no epochs/epoch*.pt to score (train with train.keep_epoch_models=true)")
    try:
        with (run / "epochs.csv").open() as f:
            minutes = {int(r["epoch"]): float(r["elapsed_s"]) / 60 for r in csv.DictReader(f)}
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{run / 'epochs.csv'}: cannot read the training times ({exc})") from None
    return [(epoch, minutes[epoch], f) for epoch, f in files.items() if epoch in minutes]


def parse_sweeps(specs: Sequence[str] | None) -> dict[str, tuple]:
    """``None`` -> the full grid; ``["sir=-5,5", "crop"]`` -> those axes (a bare name: its
    default values); ``[]`` -> no sweeps."""
    if specs is None:
        return {k: v[1] for k, v in SWEEPS.items()}
    out = {}
    for spec in specs:
        axis, _, values = spec.partition("=")
        if axis not in SWEEPS:
            raise InputError(f"--sweep {spec}: unknown axis {axis!r}; choose from {', '.join(SWEEPS)}")
        kind = type(SWEEPS[axis][1][0])
        try:
            out[axis] = tuple(kind(v) for v in values.split(",")) if values else SWEEPS[axis][1]
        except ValueError:
            raise InputError(f"--sweep {spec}: values must be {kind.__name__}s separated by commas") from None
    return out
