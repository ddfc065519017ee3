"""Speech separation (paper section 4.2): separators beside the embedders of ``models/``, trained
by the same Trainer with the pairwise signal losses of ``losses/signal.py``."""

from .band_separator import BandSeparator
from .dprnn_separator import DprnnSeparator
from .mask_separator import MaskSeparator
from .tcn_separator import TcnSeparator

__all__ = ["BandSeparator", "DprnnSeparator", "MaskSeparator", "TcnSeparator"]
