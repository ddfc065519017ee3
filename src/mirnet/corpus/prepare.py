"""What preparing any real corpus shares: every audio header is read once, in a thread pool
(header reads wait on the disk, not the CPU), with progress, and resumably. LibriSpeech's
960 hours are 281k files; a run stopped half-way must not start over. Each probed file is
appended to ``OUT.partial`` as it is read, a re-run reads only the files missing from it, and the
finished manifest replaces OUT atomically before the partial file is removed."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..audio import AudioError, audio_info
from ..errors import InputError
from ..progress import Progress, silent
from .manifest import write_jsonl

log = logging.getLogger(__name__)


@dataclass
class Probed:
    """(frames, sample_rate) of every readable file by its path, and why each other one failed."""

    info: dict[str, tuple[int, int]]
    bad: dict[str, str]


@dataclass
class Prepared:
    """What ``mirnet prepare`` wrote, for its one-line summary."""

    out: Path
    items: int
    kind: str  # utterances | mixtures
    speakers: int
    skipped: int
    extra: list[str] = field(default_factory=list)  # other files written, described

    def __str__(self) -> str:
        return "; ".join(
            [
                f"{self.out}: {self.items} {self.kind}, {self.speakers} speakers, "
                f"{self.skipped} unreadable file(s) skipped",
                *self.extra,
            ]
        )


def partial_path(out: str | Path) -> Path:
    return Path(f"{out}.partial")


def _probe_one(path: str) -> tuple[str, tuple[int, int] | None, str]:
    try:
        frames, rate = audio_info(path)
    except AudioError as exc:
        return path, None, exc.reason if os.path.exists(path) else "no such file"
    return (path, (frames, rate), "") if frames > 0 else (path, None, "empty audio (0 samples)")


def _read_partial(partial: Path) -> dict[str, tuple[int, int]]:
    """What an earlier run probed; a line cut short by a kill is read as not probed."""
    done = {}
    if partial.is_file():
        for line in partial.read_text().splitlines():
            try:
                row = json.loads(line)
                done[row["path"]] = (int(row["num_samples"]), int(row["sample_rate"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return done


def probe_files(
    paths: Iterable[str | Path],
    *,
    partial: Path | None = None,
    jobs: int = 4,
    progress: Progress = silent,
    desc: str = "probe",
) -> Probed:
    """Headers of ``paths`` (deduplicated), reusing and extending ``partial`` when given.
    Unreadable files are not recorded there, so a re-run tries them again."""
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {jobs}")
    wanted = list(dict.fromkeys(str(p) for p in paths))
    done = _read_partial(partial) if partial else {}
    info = {p: done[p] for p in wanted if p in done}
    todo = [p for p in wanted if p not in done]
    if info:
        log.info("%s: reusing %d probed file(s), %d to go", partial, len(info), len(todo))
    bad: dict[str, str] = {}
    if partial:
        partial.parent.mkdir(parents=True, exist_ok=True)
    pool = ThreadPoolExecutor(jobs)
    with partial.open("a", buffering=1) if partial else contextlib.nullcontext() as log_file:
        try:
            results = progress(pool.map(_probe_one, todo), total=len(todo), unit="file", desc=desc)
            for path, header, reason in results:
                if header is None:
                    bad[path] = reason
                    continue
                info[path] = header
                if log_file:
                    log_file.write(
                        json.dumps({"path": path, "num_samples": header[0], "sample_rate": header[1]}) + "\n"
                    )
        finally:  # on Ctrl-C, drop the queued files instead of probing them all first
            pool.shutdown(wait=False, cancel_futures=True)
    return Probed(info, bad)


def warn_skipped(bad: dict[str, str], where: str | Path) -> None:
    """One warning line naming every skipped file and the reason."""
    if bad:
        log.warning(
            "skipped %d unreadable file(s) under %s: %s",
            len(bad),
            where,
            "; ".join(f"{path} ({reason})" for path, reason in sorted(bad.items())),
        )


def finish(out: str | Path, rows: Iterable[dict]) -> Path:
    """The manifest, atomically; then the partial results it no longer needs."""
    path = write_jsonl(out, rows)
    partial_path(out).unlink(missing_ok=True)
    return path
