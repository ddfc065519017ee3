"""An embedder with a separator in front: mixture -> N separated streams -> one embedding per
stream, in one model with the embedders' contract ((B, samples) -> (B, N, E)).

Why: the cascade (a speaker-independent separator, then a single-speaker embedder on each
output) gives identities of unseen voices that the paper's front end does not: a signal-level
PIT loss cannot be met by detecting known voices (docs/separation.md, the cascade). As one
model it is a mixture embedder like MIRNet: ``mirnet embed``, ``verify``, ``identify``,
``diarize``, ``eval`` and ``report`` use it as they use MIRNet, and training it end to end (the
separating front end) goes through the one Trainer. ``compose`` builds it from
a trained separator and a trained embedder; ``train.freeze: [separator]`` keeps the separator as
it was while the embedder learns.

It sits above ``models/`` and ``separation/``, below ``architectures``, since it joins one of
each."""

from __future__ import annotations

import torch
from torch import nn

from . import models, separation  # noqa: F401  (the parts it builds register there)
from .errors import ConfigError
from .models.mirnet import ModelOutput
from .registry import build_model, register


@register("separating_embedder")
class SeparatingEmbedder(nn.Module):
    """``separator`` and ``embedder``: each a ``{"name", "args"}`` that the registry
    builds; a speaker-independent separator of N outputs and a single-embedding embedder."""

    kind, has_masks, has_streams = "embedder", False, True

    def __init__(self, separator: dict | None = None, embedder: dict | None = None):
        super().__init__()
        parts = {}
        for key, spec, kind in (("separator", separator, "separator"), ("embedder", embedder, "embedder")):
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise ConfigError(f"{key}: expected {{name: ..., args: {{...}}}}, got {spec!r}")
            part = build_model(spec["name"], **dict(spec.get("args") or {}))
            if part.kind != kind:
                raise ConfigError(f"{key}: {spec['name']!r} is {_a(part.kind)}, not {_a(kind)}")
            parts[key] = part
        self.separator, self.embedder = parts["separator"], parts["embedder"]
        if self.separator.embed_dim:
            raise ConfigError(
                "separator: a conditioned separator needs embeddings; give a speaker-independent one"
            )
        if self.embedder.n_speakers != 1:
            raise ConfigError(
                f"embedder: {embedder['name']!r} gives {self.embedder.n_speakers} embeddings per clip; "
                "the streams need a single-embedding model"
            )
        self.n_speakers = self.separator.n_outputs
        self.embed_dim = self.embedder.embed_dim
        self.features = self.embedder.features

    def forward(self, wav: torch.Tensor) -> ModelOutput:
        streams = self.separator(wav).float()  # (B, N, samples)
        b, n = streams.shape[:2]
        emb = self.embedder(streams.flatten(0, 1)).embeddings  # (B * N, 1, E)
        return ModelOutput(emb.view(b, n, -1), streams=streams)

    def start_from(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Another separating embedder's weights (a composed one) as this one's start."""
        missing, _ = self.load_state_dict(state, strict=False)
        return missing


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def compose(separator: dict, embedder: dict) -> SeparatingEmbedder:
    """A separating embedder from two model bundles (``checkpoint.read_bundle``), with their
    weights: the cascade as one model."""
    model = build_model("separating_embedder", separator=separator["model"], embedder=embedder["model"])
    model.separator.load_state_dict(separator["state_dict"])
    model.embedder.load_state_dict(embedder["state_dict"])
    return model.eval()
