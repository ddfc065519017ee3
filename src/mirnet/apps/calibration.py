"""Calibration files: evaluation results whose operating point a verb reuses (verify's EER
threshold, diarize's tuned thresholds). A calibration holds for the model it was measured on
only: scores of two models do not share a scale, so another model's file is refused."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError


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
