"""One way to report the progress of long work through the house (as pyannote's
``ProgressHook``): a callable that takes the work's items, or its ``total``, and returns a bar to
iterate or ``update``, as tqdm's constructor does. The command line passes ``bars`` (tqdm on
stderr) or, under ``-q``, ``silent``; a notebook, a server or a test may pass any callable of
that shape, e.g. one that records what it is told."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from tqdm import tqdm


class Progress(Protocol):
    def __call__(
        self,
        iterable: Iterable | None = None,
        *,
        total: int | None = None,
        desc: str | None = None,
        unit: str = "it",
        leave: bool = True,
        disable: bool = False,
    ) -> Any: ...


def bars(iterable: Iterable | None = None, **kwargs) -> tqdm:
    """tqdm's bar on stderr; ``disable`` still hides a bar the work does not need (one chunk)."""
    return tqdm(iterable, **kwargs)


def silent(iterable: Iterable | None = None, **kwargs) -> tqdm:
    """The same bar, drawing nothing."""
    return tqdm(iterable, **{**kwargs, "disable": True})
