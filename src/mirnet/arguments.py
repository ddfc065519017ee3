"""Checked arguments, the vocabulary every layer shares: a number's range lives in its type
(``Size``, ``Ratio``: ``Annotated`` with a ``Bound``), which ``coerce`` checks wherever a value is
read from a config or a checkpoint, and ``build`` checks a constructor's plain-dict arguments
against the constructor's own annotations before it runs. So a typo or a wrong value stops with
its key, e.g. ``model.args.encoder.chanels``, instead of a TypeError from deep inside a
constructor, hours into a run.

A model describes its parts by building them here: ``build(SpeechEncoder, encoder, "encoder",
in_bins=...)``. Keyword arguments are what the parent supplies itself (derived from other parts)
and may not come from the user. Errors raised inside name their key relative to the part, and
each enclosing ``build`` prefixes its own, up to ``model.args``.

It imports nothing of the project but its errors, so that configs, models and separators all
stand on it and none of them on each other."""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import math
import operator
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from .errors import ConfigError

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Bound:
    """``Annotated[int, Bound(">=", 1)]``: the value must be ``op limit``."""

    op: str
    limit: int | float

    def check(self, value: int | float, key: str) -> None:
        if not _OPS[self.op](value, self.limit):
            kind = "a whole number" if isinstance(value, int) else "a number"
            raise ConfigError(f"{key}: expected {kind} {self.op} {self.limit}, got {value!r}")


Count = Annotated[int, Bound(">=", 0)]
Size = Annotated[int, Bound(">=", 1)]
Positive = Annotated[float, Bound(">", 0)]
NonNegative = Annotated[float, Bound(">=", 0)]
Ratio = Annotated[float, Bound(">=", 0), Bound("<=", 1)]
Seed = Annotated[int, Bound(">=", 0), Bound("<", 2**32)]  # what numpy's and torch's generators all take
Speed = Annotated[float, Bound(">=", 0.5), Bound("<=", 2)]  # resampled through ratios of denominator <= 100
HeldOut = Annotated[float, Bound(">=", 0), Bound("<", 1)]  # a share that leaves a remainder
# a low-pass cutoff at 16 kHz: 8000 (Nyquist) leaves a source as it is; below 1 kHz no speech is left
Cutoff = Annotated[float, Bound(">=", 1000), Bound("<=", 8000)]


def choose(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")


def coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` as type ``tp`` (an int where a float is expected, a list where a tuple or
    Sequence is), with ``tp``'s bounds checked; a ConfigError naming ``key`` if it is not one."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        value = coerce(value, args[0], key)
        for bound in args[1:]:
            bound.check(value, key)
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for alternative in (a for a in args if a is not type(None)):
            try:
                return coerce(value, alternative, key)
            except ConfigError as exc:
                errors.append(str(exc).removeprefix(f"{key}: "))
        raise ConfigError(f"{key}: {' or '.join(errors)}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return build_dataclass(tp, value, key + ".")
    if origin is collections.abc.Sequence or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is float and not isinstance(value, bool):
        if isinstance(value, (int, str)):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value)
            except (ValueError, OverflowError):
                pass
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value}")
    base = origin or tp
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):
        raise ConfigError(
            f"{key}: expected {getattr(base, '__name__', base)}, got {type(value).__name__} {value!r}"
        )
    return value


def build_dataclass(cls: type, values: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls, include_extras=True)
    unknown = sorted(str(k) for k in values if k not in hints)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(prefix + k for k in unknown)}; "
            f"valid keys here: {', '.join(sorted(hints))}"
        )
    return cls(**{k: coerce(v, hints[k], prefix + k) for k, v in values.items()})


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


def build(cls: type, args: dict | None, key: str, **supplied) -> Any:
    """``cls(**args, **supplied)``, ``args`` checked first; a ConfigError from inside (the part's
    own check of its arguments against each other, or its parts') gets ``key.`` in front."""
    try:
        return cls(**check_args(cls, args or {}, supplied), **supplied)
    except ConfigError as exc:
        exc.args = (f"{key}.{exc}",)
        raise
