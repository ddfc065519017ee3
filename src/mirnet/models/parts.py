"""Models built from plain-dict arguments (a config's ``model.args``, a checkpoint's): each
constructor argument is checked against the constructor's own annotation (type and ``Bound``)
before the constructor runs, so a typo or a wrong value stops with its key, e.g.
``model.args.encoder.chanels``, instead of a TypeError from deep inside a constructor.

A model describes its parts by building them here: ``build(SpeechEncoder, encoder, "encoder",
in_bins=...)``. Keyword arguments are what the parent supplies itself (derived from other parts)
and may not come from the user. Errors raised inside name their key relative to the part, and
each enclosing ``build`` prefixes its own, up to ``model.args``."""

from __future__ import annotations

import inspect
import typing

from torch import nn

from ..config import ConfigError, coerce


def check_args(cls: type, args: dict, supplied: typing.Container[str] = ()) -> dict:
    """``args`` coerced to ``cls``'s annotations; a ConfigError naming the first argument that
    ``cls`` does not take, that its parent supplies, or whose value does not fit."""
    hints = typing.get_type_hints(cls.__init__, include_extras=True)
    accepted = [p for p in inspect.signature(cls).parameters if p not in supplied]
    for key in args:
        if key not in accepted:
            why = "set by the enclosing model, not by the config" if key in supplied else "unknown argument"
            raise ConfigError(f"{key}: {why}; {cls.__name__} takes {', '.join(accepted)}")
    return {key: coerce(value, hints[key], key) for key, value in args.items()}


def build(cls: type, args: dict | None, key: str, **supplied) -> nn.Module:
    """``cls(**args, **supplied)``, ``args`` checked first; a ConfigError from inside (the part's
    own check of its arguments against each other, or its parts') gets ``key.`` in front."""
    try:
        return cls(**check_args(cls, args or {}, supplied), **supplied)
    except ConfigError as exc:
        exc.args = (f"{key}.{exc}",)
        raise
