"""Speech separation (paper section 4.2): separators beside the embedders of ``models/``, trained
by the same Trainer with the pairwise signal losses of ``losses/signal.py``."""

from .mask_separator import MaskSeparator

SEPARATORS = {"mask_separator": MaskSeparator}

__all__ = ["MaskSeparator", "SEPARATORS"]
