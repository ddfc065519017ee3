"""Starting one separator from another's weights (``train.init_from``): what every architecture's
``start_from`` shares, so a conditioned one-output separator begins as a uPIT separator's first
output whatever the architecture; and ``widen``, which starts a wider network as the narrower one
it grows from."""

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


def widen(src: torch.Tensor, target: torch.Tensor, blocks: tuple[int, ...]) -> bool:
    """Embed ``src`` in the larger ``target`` so that the wider network computes what the narrower
    one did (Net2Net's aim, with zeros instead of copies): along each dim, cut into ``blocks[d]``
    equal blocks (an LSTM's four gates, a BLSTM's two directions), old block i fills the start of
    new block i. In the rows of old units, the columns read from new units are zeroed, so a new
    unit reaches no old one until training moves those weights; the new units' own rows keep their
    random start, and their outputs are what gives those zeros a gradient. False if the shapes do
    not nest so."""
    if src.dim() != target.dim() or src.dim() != len(blocks) or src.dim() > 2:
        return False
    kept = []
    for d, n in enumerate(blocks):
        old, new = src.shape[d], target.shape[d]
        if old % n or new % n or new < old:
            return False
        step, size = new // n, old // n
        kept.append(torch.cat([torch.arange(i * step, i * step + size) for i in range(n)]))
    if src.dim() == 1:
        target[kept[0]] = src
        return True
    target[kept[0]] = 0.0
    target[kept[0][:, None], kept[1][None, :]] = src
    return True
