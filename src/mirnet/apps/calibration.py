"""Calibration files: evaluation results whose operating point a verb reuses (verify's and
identify's EER thresholds, one per trial condition, and diarize's tuned thresholds). A
calibration holds for the model it was measured on only: scores of two models do not share a
scale, so another model's file is refused.

A shipped model carries its own beside its model file (``SHIPPED``), measured on its training
voices only, and each verb uses it unless told otherwise: a user's first decision is a calibrated
one. A file a calibration names (its cohort) is found as given, else beside the calibration, so a
model folder moved or installed elsewhere keeps working."""

from __future__ import annotations

import json
from pathlib import Path

from ..checkpoint import PRETRAINED, resolve
from ..errors import InputError

# use -> the calibration a model folder may carry for it, found and used by default. A threshold
# holds for the condition it was measured under: scores of two clean voices run far higher than
# those of two mixtures (the separator splits one voice into two outputs that both sound like it),
# so a mixture threshold accepts two different people recorded alone.
SHIPPED = {
    "mixture": "calibration.json",  # mirnet eval --cohort ... --json: two mixtures (verify's default)
    "enrolled": "calibration_enrolled.json",  # the same with --condition enrolled: a mixture, one clean voice
    "clean": "calibration_clean.json",  # the same with --condition clean: two clean voices
    "diarize": "diarization.json",  # mirnet eval-diarization --tune --cohort ... --json
}


def shipped_calibration(model: str | Path, use: str) -> Path | None:
    """The calibration the model ``model`` (a path or a shipped name) carries for ``use`` (a key of
    ``SHIPPED``), or None."""
    if not model or str(model) == PRETRAINED:
        return None
    path = resolve(model).parent / SHIPPED[use]
    return path if path.is_file() else None


def beside(calibration: str | Path, named: str | Path) -> Path:
    """A file a calibration names: as given where it exists, else in the calibration's folder."""
    named = Path(named)
    if named.exists() or named.is_absolute():
        return named
    here = Path(calibration).parent / named.name
    return here if here.exists() else named


def read_calibration(path: str | Path, fingerprint: str, key: str, how: str) -> dict:
    """The JSON result at ``path``, which must hold ``key`` and come from the model ``fingerprint``;
    ``how`` says which command writes one."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read a calibration ({exc})") from None
    if not isinstance(result, dict) or key not in result:
        raise InputError(f"{path}: not a calibration: no {key} (write one with {how})")
    if result.get("system") != fingerprint:
        raise InputError(f"{path}: calibrated on model {result.get('system')}, this model is {fingerprint}")
    return result
