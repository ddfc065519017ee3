"""VoxCeleb1 as distributed: ROOT/<speaker id>/<video>/<utt>.wav (the ``wav/`` folder) and its
official trial lists (``veri_test2.txt``: ``label path1 path2``, paths relative to ROOT).

Utterance ids are the paths without ``.wav`` (``id10270/x6uYqmx31kE/00001``), so the trial lists
map onto the manifest one to one. Each list is checked against the manifest and written beside
it as ``<manifest stem>.<list stem>.jsonl``, one ``{"label": 1, "enroll": ID, "test": ID}`` a
line: a trial naming a file that is missing or unreadable fails here, naming the file, instead
of hours into an evaluation."""

from __future__ import annotations

from pathlib import Path

from ..errors import CorpusError
from ..progress import Progress, silent
from .manifest import Manifest, Utterance, write_jsonl
from .prepare import Prepared, finish, partial_path, probe_files, warn_skipped


def trials_path(out: str | Path, trial_list: str | Path) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}.{Path(trial_list).stem}.jsonl")


def read_trial_list(path: str | Path, ids: set[str], root: Path) -> list[dict]:
    """``label path1 path2`` lines as rows of manifest ids; every file must be in ``ids``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such trial list")
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or parts[0] not in ("0", "1"):
            raise CorpusError(
                f"{path}:{lineno}: expected 'label path1 path2' with label 0 or 1, got {line!r}"
            )
        uids = [Path(p).with_suffix("").as_posix() for p in parts[1:]]
        for rel, uid in zip(parts[1:], uids):
            if uid not in ids:
                raise FileNotFoundError(
                    f"{path}:{lineno}: {root / rel} is not in the manifest (missing or unreadable)"
                )
        rows.append({"label": int(parts[0]), "enroll": uids[0], "test": uids[1]})
    if not rows:
        raise CorpusError(f"{path}: no trials")
    return rows


def prepare_voxceleb(
    root: str | Path,
    out: str | Path,
    *,
    trials: list[str] | None = None,
    jobs: int = 4,
    progress: Progress = silent,
) -> Prepared:
    """ROOT/<id>/<video>/<utt>.wav -> manifest (``meta`` {video}); each trial list -> beside it."""
    root = Path(root).resolve()
    files = sorted(root.glob("*/*/*.wav")) if root.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{root}: no VoxCeleb-layout audio (<id>/<video>/<utt>.wav)")
    probed = probe_files(files, partial=partial_path(out), jobs=jobs, progress=progress, desc="voxceleb")
    warn_skipped(probed.bad, root)
    utts = [
        Utterance(
            p.relative_to(root).with_suffix("").as_posix(),
            p.parent.parent.name,
            str(p),
            *probed.info[str(p)],
            meta={"video": p.parent.name},
        )
        for p in files
        if str(p) in probed.info
    ]
    if not utts:
        raise FileNotFoundError(f"{root}: no readable audio")
    manifest = Manifest(utts, source=str(root))
    ids = {u.id for u in manifest}
    lists = {
        trials_path(out, t): read_trial_list(t, ids, root) for t in trials or []
    }  # all checked before writing
    finish(out, (u.to_dict() for u in manifest))
    for dest, rows in lists.items():
        write_jsonl(dest, rows)
    return Prepared(
        Path(out),
        len(manifest),
        "utterances",
        len(manifest.speakers),
        len(probed.bad),
        [f"{dest}: {len(rows)} trials" for dest, rows in lists.items()],
    )
