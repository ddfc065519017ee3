"""What a report scores: systems named by their caller, and the epochs a run kept."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ..peers import PEERS


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
