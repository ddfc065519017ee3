"""Starting one separator from another's weights (``train.init_from``): what every architecture's
``start_from`` shares, so a conditioned one-output separator begins as a uPIT separator's first
output whatever the architecture."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# (name, source tensor, own tensor) -> whether it filled the own tensor from the source
Rule = Callable[[str, torch.Tensor, torch.Tensor], bool]


def start_from_state(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    output_layer: Callable[[str], bool],
    rule: Rule | None = None,
) -> list[str]:
    """Copy ``state`` into ``model``: equal shapes are copied; an output layer (``output_layer(name)``)
    of fewer outputs keeps the source's leading rows, which hold its first outputs; ``rule`` may
    fill other tensors. Returns the names left at their own start."""
    missed = []
    with torch.no_grad():
        for name, target in model.state_dict().items():
            src = state.get(name)
            if src is None:
                missed.append(name)
            elif src.shape == target.shape:
                target.copy_(src)
            elif output_layer(name) and src.shape[1:] == target.shape[1:] and src.shape[0] > target.shape[0]:
                target.copy_(src[: target.shape[0]])
            elif rule is None or not rule(name, src, target):
                missed.append(name)
    return missed
