"""mirnet: one speaker embedding per talker in overlapped speech, without enrollment."""

__version__ = "0.1.0"

_API = {
    **dict.fromkeys(("load", "load_separator", "Embedder", "Separator"), "api"),
    **dict.fromkeys(("verify", "enroll", "identify", "Gallery"), "apps.verification"),
    "diarize": "apps.diarization",
}


def __getattr__(name: str):
    """``mirnet.load``, the rest of ``mirnet.api`` and the applications, imported on first use:
    ``import mirnet`` alone (for ``__version__``) loads no torch."""
    if name in _API:
        from importlib import import_module

        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'mirnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
