"""Where a conditioned separator's target embeddings come from (paper section 4.2).

- From the mixture itself: an N-speaker embedder (MIRNet) gives the mixture's N identities,
  and the separator runs once per identity. No enrollment: the paper's system.
- From enrolled references: a single-speaker embedder (the project's clean model, or
  resemblyzer) embeds another clean utterance of each target ("Chung et al." in the paper's
  Table 3, VoiceFilter's own setting).

Embeddings are L2-normalised, as VoiceFilter's d-vectors are, so the separator sees directions
whatever the embedder's scale. The embedder is fixed: the separator learns for the embedding
space it will be given, which is why a separator trained on one source of embeddings is
scored on another only to measure what the mismatch costs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

MODES = ("mixture", "enrolled")


class Conditioner(nn.Module):
    """batch {"mixture": (B, samples) [, "enrollment": (B, N, samples)]} -> (B, N, D) unit vectors."""

    def __init__(self, embedder, mode: str | None = None):
        super().__init__()
        self.embedder = embedder.eval().requires_grad_(False) if isinstance(embedder, nn.Module) else embedder
        self.mode = mode or ("enrolled" if embedder.n_speakers == 1 else "mixture")
        if self.mode not in MODES:
            raise ConfigError(f"conditioning mode: expected one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "enrolled" and embedder.n_speakers != 1:
            raise ConfigError(
                f"enrolled conditioning needs a single-speaker embedder; this one gives "
                f"{embedder.n_speakers} embeddings per clip"
            )
        self.embed_dim = embedder.embed_dim

    def train(self, mode: bool = True) -> Conditioner:
        return super().train(False)  # a fixed embedder: BatchNorm keeps its statistics

    @torch.no_grad()
    def embed(self, wavs: torch.Tensor) -> torch.Tensor:
        """(B, samples) at 16 kHz -> (B, n, D) unit vectors, n the embedder's speakers per clip."""
        out = self.embedder(wavs)
        emb = getattr(out, "embeddings", out)  # mirnet models give a ModelOutput, peers a tensor
        return F.normalize(emb.float(), dim=-1)

    def forward(self, batch: dict) -> torch.Tensor:
        if self.mode == "mixture":
            return self.embed(batch["mixture"])
        if "enrollment" not in batch:
            raise ConfigError(
                "enrolled conditioning needs enrollment utterances: set data.enroll_seconds > 0"
            )
        enrollment = batch["enrollment"]
        b, n = enrollment.shape[:2]
        return self.embed(enrollment.flatten(0, 1)).reshape(b, n, -1)
