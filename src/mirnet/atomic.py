"""The one way mirnet writes a file: to a temporary sibling, renamed over the target only once
the write has finished, so an interrupted run leaves the previous file (or none), never half a
file. Audio, manifests, corpora, checkpoints, exports, trial lists and reports all use it.

A process killed mid-write (kill -9, out of memory) cannot remove its temporary, so the next save
of the same target removes the temporaries of writers that are gone: those named after this host
whose process id is no longer alive here. A temporary of another host (a shared filesystem) or
another container is never removed: whether its writer is alive cannot be told from here."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def _host() -> str:
    """Where a pid in a temporary's name can be checked: this host and, on Linux, its pid namespace
    (containers sharing a volume and a hostname see different processes). Only letters, digits,
    ``-`` and ``_`` (no dot, so the name parses back), and short, so a long target name still fits."""
    host = socket.gethostname()
    with suppress(OSError):
        host += f"-{os.stat('/proc/self/ns/pid').st_ino:x}"
    host = re.sub(r"[^A-Za-z0-9-]", "_", host)
    if len(host) > 40:
        host = f"{host[:31]}-{hashlib.sha1(host.encode()).hexdigest()[:8]}"
    return host


def temporary_name(path: str | Path, pid: int | None = None) -> Path:
    """The temporary sibling a writer of ``path`` uses: ``.NAME.HOST.tmpPID``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{_host()}.tmp{os.getpid() if pid is None else pid}")


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host; when unsure (another user's process), yes."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none, or a number no pid can be
        return False
    except OSError:
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by dead processes of this host, and those of the
    older host-less name (``.NAME.tmpPID``) whose pid is dead here; returns what was removed.
    Never raises: a temporary another cleaner removed first, or one not ours to remove, is left."""
    path = Path(path)
    prefix, host = f".{path.name}.", _host()
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        m = re.fullmatch(r"(?:([A-Za-z0-9_-]+)\.)?tmp(\d+)", entry.name[len(prefix) :])
        if m is None or m[1] not in (None, host) or _alive(int(m[2])):
            continue
        with suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields the temporary path to write; on success it replaces ``path``, on an exception it is
    removed and ``path`` is untouched. The temporary name holds the host and the process id, so
    concurrent writers (synthesis workers, DDP ranks, hosts on a shared filesystem) never share one,
    and a dead writer's temporary is recognised as such (removed before this write). Writers that
    pick a format by suffix must be told the format: the temporary name ends in ``.tmpPID``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
