"""mirnet: one speaker embedding per talker in overlapped speech, without enrollment."""

__version__ = "0.1.0"

_API = ("load", "load_separator", "Embedder", "Separator")


def __getattr__(name: str):
    """``mirnet.load`` and the rest of ``mirnet.api``, imported on first use: ``import mirnet``
    alone (for ``__version__``) loads no torch."""
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'mirnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
