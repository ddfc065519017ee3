"""The optimizer and the learning-rate schedule, each chosen by name from ``optim``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from ..arguments import choose
from ..config import OptimConfig


def _adam(params, o: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)


def _adamw(params, o: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)


def _sgd(params, o: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)


OPTIMIZERS: dict[str, Callable[[Iterable[torch.nn.Parameter], OptimConfig], torch.optim.Optimizer]] = {
    "adam": _adam,  # weight decay added to the gradient, as torch.optim.Adam does
    "adamw": _adamw,  # decoupled weight decay
    "sgd": _sgd,  # with ``optim.momentum``
}


def build_optimizer(params: Iterable[torch.nn.Parameter], o: OptimConfig) -> torch.optim.Optimizer:
    choose("optim.name", o.name, tuple(OPTIMIZERS))
    return OPTIMIZERS[o.name](list(params), o)


def _cosine(progress: float, min_ratio: float) -> float:
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _constant(progress: float, min_ratio: float) -> float:
    return 1.0


SCHEDULES: dict[str, Callable[[float, float], float]] = {"cosine": _cosine, "constant": _constant}


def lr_factor(step: int, total: int, warmup: int, schedule: str, min_ratio: float) -> float:
    """The factor on ``optim.lr`` at ``step`` (0-based) of ``total``: a linear warm-up over
    ``warmup`` steps, then ``schedule`` over the rest, from 1 down to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown LR schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    return SCHEDULES[schedule](min(1.0, (step - warmup) / max(1, total - warmup)), min_ratio)
