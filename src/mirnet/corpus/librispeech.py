"""Read any tree in LibriSpeech layout (``<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac``),
real LibriSpeech or the synthesized default corpus, into a Manifest; and prepare real
LibriSpeech subset by subset, each utterance tagged with its subset and its reader's sex."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import NamedTuple

from ..errors import CorpusError
from ..progress import Progress, silent
from .manifest import Manifest, Utterance
from .prepare import Prepared, finish, partial_path, probe_files, warn_skipped

log = logging.getLogger(__name__)
_NAME = re.compile(r"^([^-/]+)-([^-/]+)-([^-/]+)\.(flac|wav)$", re.IGNORECASE)
LAYOUT = "<spk>/<chapter>/<spk>-<chapter>-<utt>.flac"


class SpeakerInfo(NamedTuple):
    sex: str
    subset: str
    minutes: float
    name: str


def read_speakers_txt(path: str | Path) -> dict[str, SpeakerInfo]:
    """LibriSpeech's SPEAKERS.TXT: ';' comment lines, then ``ID | SEX | SUBSET | MINUTES | NAME``.
    Only the first four bars separate fields: a reader's name may hold one (speaker 60, "|CBW|Simon")."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file (LibriSpeech's speaker table, ID | SEX | SUBSET | MINUTES | NAME)"
        )
    speakers = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        try:
            spk, sex, subset, minutes, name = (f.strip() for f in line.split("|", 4))
            speakers[spk] = SpeakerInfo(sex, subset, float(minutes), name)
        except ValueError:
            raise CorpusError(
                f"{path}:{lineno}: expected 'ID | SEX | SUBSET | MINUTES | NAME', got {line!r}"
            ) from None
    return speakers


SPEAKER_TABLE = "speakers.tsv"  # the default corpus's: speaker, then one column per attribute
_NOT_ATTRIBUTES = ("speaker", "utterances", "minutes")  # an amount of audio says nothing of the voice


def speaker_metadata(root: str | Path) -> dict[str, dict[str, str]]:
    """What the corpus knows of each speaker, from the table in ``root`` or its parent (where
    LibriSpeech and the default corpus keep theirs): ``speakers.tsv`` gives each of its columns
    (engine, voice, language, gender, subset), else ``SPEAKERS.TXT`` the reader's sex as
    ``gender`` and the subset. No table: no metadata, which counts as unknown, never as different."""
    for folder in (Path(root), Path(root).parent):
        if (folder / SPEAKER_TABLE).is_file():
            return _read_speaker_tsv(folder / SPEAKER_TABLE)
        if (folder / "SPEAKERS.TXT").is_file():
            table = read_speakers_txt(folder / "SPEAKERS.TXT")
            return {spk: {"gender": info.sex, "subset": info.subset} for spk, info in table.items()}
    return {}


def _read_speaker_tsv(path: Path) -> dict[str, dict[str, str]]:
    lines = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines or lines[0][0] != "speaker":
        raise CorpusError(f"{path}: expected a header line starting with 'speaker' and a tab")
    header, table = lines[0], {}
    for lineno, row in enumerate(lines[1:], 2):
        if len(row) != len(header):
            raise CorpusError(f"{path}:{lineno}: {len(row)} columns, the header has {len(header)}")
        table[row[0]] = {k: v for k, v in zip(header, row) if k not in _NOT_ATTRIBUTES and v}
    return table


def _scan(root: Path) -> list[tuple[Path, str]]:
    """(file, speaker) for every file under ``root`` whose name and two parent folders agree."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in (".flac", ".wav")):
        m = _NAME.match(path.name)
        if m and path.parent.name == m.group(2) and path.parent.parent.name == m.group(1):
            found.append((path, m.group(1)))
    return found


def read_librispeech(root: str | Path, jobs: int = 4) -> Manifest:
    """Every ``<spk>-<chapter>-<utt>`` file under ``root`` whose two parent folders are
    ``<spk>/<chapter>``, its ``meta`` what ``speaker_metadata`` knows of its speaker; unreadable
    files are skipped with one warning listing them."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    files = _scan(root.resolve())
    probed = probe_files((p for p, _ in files), jobs=jobs)
    warn_skipped(probed.bad, root)
    known = speaker_metadata(root.resolve())
    utts = [
        Utterance(p.stem, spk, str(p), *probed.info[str(p)], meta=dict(known.get(spk, {})))
        for p, spk in files
        if str(p) in probed.info
    ]
    if not utts:
        raise FileNotFoundError(f"{root}: no LibriSpeech-layout audio ({LAYOUT})")
    return Manifest(utts, source=str(root))


def prepare_librispeech(
    root: str | Path,
    out: str | Path,
    *,
    subsets: list[str] | None = None,
    jobs: int = 4,
    progress: Progress = silent,
) -> Prepared:
    """ROOT/<subset>/<spk>/<chapter>/*.flac for each subset (default: every folder of ROOT) ->
    manifest with ``meta`` {subset, gender}; ROOT/SPEAKERS.TXT gives the genders."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    speakers = read_speakers_txt(root / "SPEAKERS.TXT")
    subsets = subsets or sorted(p.name for p in root.iterdir() if p.is_dir())
    files = []
    for subset in subsets:
        found = _scan(root / subset) if (root / subset).is_dir() else []
        if not found:
            raise FileNotFoundError(f"{root / subset}: no LibriSpeech-layout audio ({LAYOUT}) in this subset")
        files += [(path, spk, subset) for path, spk in found]
    probed = probe_files(
        (p for p, _, _ in files), partial=partial_path(out), jobs=jobs, progress=progress, desc="librispeech"
    )
    warn_skipped(probed.bad, root)
    unknown = sorted({spk for _, spk, _ in files} - set(speakers))
    if unknown:
        log.warning(
            "%d speaker(s) not in %s, written without gender: %s",
            len(unknown),
            root / "SPEAKERS.TXT",
            ", ".join(unknown),
        )
    utts = [
        Utterance(
            path.stem,
            spk,
            str(path),
            *probed.info[str(path)],
            meta={"subset": subset, **({"gender": speakers[spk].sex} if spk in speakers else {})},
        )
        for path, spk, subset in files
        if str(path) in probed.info
    ]
    if not utts:
        raise FileNotFoundError(f"{root}: no readable audio in {', '.join(subsets)}")
    manifest = Manifest(utts, source=str(root))
    finish(out, (u.to_dict() for u in manifest))
    return Prepared(Path(out), len(manifest), "utterances", len(manifest.speakers), len(probed.bad))
