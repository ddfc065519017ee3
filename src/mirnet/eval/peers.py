"""Pretrained systems from outside mirnet, wrapped with the protocol's embedder contract
((B, samples) at 16 kHz -> (B, N, E)), so that `trial_scores` scores them unchanged on the very
trial list a mirnet model is scored on: every claim then stands beside a peer's number.

Peers are reserved names for `mirnet eval` (``mirnet eval resemblyzer --data ...``).
"""

from ..models.resemblyzer import Resemblyzer

PEERS = {"resemblyzer": Resemblyzer}
