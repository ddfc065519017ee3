"""The one way mirnet writes a file: to a temporary sibling, renamed over the target only once
the write has finished, so an interrupted run leaves the previous file (or none), never half a
file. Audio, manifests, corpora, checkpoints, exports, trial lists and reports all use it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields the temporary path to write; on success it replaces ``path``, on an exception it is
    removed and ``path`` is untouched. The temporary name holds the process id, so concurrent
    writers (synthesis workers, DDP ranks) never share one. Writers that pick a format by suffix
    must be told the format: the temporary name ends in ``.tmpPID``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
