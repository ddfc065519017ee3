"""Speech separation (paper section 4.2): separators beside the embedders of ``models/``, trained
by the same Trainer with the pairwise signal losses of ``losses/signal.py``."""

from .band_separator import BandSeparator
from .mask_separator import MaskSeparator

SEPARATORS = {"mask_separator": MaskSeparator, "band_separator": BandSeparator}

__all__ = ["BandSeparator", "MaskSeparator", "SEPARATORS"]
