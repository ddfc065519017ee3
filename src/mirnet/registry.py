"""Every trainable network by the name that configs and checkpoints use. A network registers
itself where it is defined (``@register("mask_separator")``), so the registry knows no package
and no package knows another; ``mirnet.architectures`` imports them all and is the door the
rest of the house builds through.

A network built here describes itself (as Asteroid's ``get_model_args``): ``describe(model)``
is the name and the arguments that rebuild it, which a checkpoint stores, so nothing beside the
model has to remember how it was made."""

from __future__ import annotations

from typing import Any

from .arguments import build
from .errors import ConfigError

_NETWORKS: dict[str, type] = {}


def register(name: str):
    """A class decorator: the network ``name`` for ``build_model``; its ``kind`` ("embedder":
    mixture -> N speaker embeddings, or "separator": mixture -> N waveforms) says which."""

    def add(cls: type) -> type:
        if _NETWORKS.setdefault(name, cls) is not cls:
            raise RuntimeError(f"two networks registered as {name!r}: {_NETWORKS[name]} and {cls}")
        return cls

    return add


def names(kind: str | None = None) -> list[str]:
    """The registered names, of one ``kind`` if given, in registration order."""
    return [n for n, cls in _NETWORKS.items() if kind is None or cls.kind == kind]


def architecture(name: str) -> type:
    if not isinstance(name, str) or name not in _NETWORKS:
        raise ConfigError(f"model.name: unknown model {name!r}; choose one of {', '.join(_NETWORKS)}")
    return _NETWORKS[name]


def build_model(name: str, **kwargs) -> Any:
    """The network ``name`` with ``kwargs`` checked against its constructors (``arguments.build``):
    bad arguments raise a ConfigError naming their key under ``model.args``."""
    model = build(architecture(name), kwargs, "model.args")
    model.architecture = {"name": name, "args": dict(kwargs)}
    return model


def describe(model: Any) -> dict:
    """``{"name", "args"}``: what ``build_model`` needs to build ``model`` again."""
    spec = getattr(model, "architecture", None)
    if spec is None:
        raise ConfigError(f"a {type(model).__name__} built outside build_model() cannot describe itself")
    return {"name": spec["name"], "args": dict(spec["args"])}
