"""The separation literature's fixed mixture corpora, WSJ0-2mix and Libri2Mix, as lists of
``Mixture``: to evaluate on the very mixtures other systems report on, beside the mixtures mirnet
draws itself.

Stored as JSON lines, one mixture a line: ``id`` (``<split>/<name>``), ``path``, ``sources`` (one
path per speaker, in the corpus's s1, s2 order), ``speakers``, ``snr_db`` (each source's level in
dB as the corpus records it, or null), ``num_samples``, ``sample_rate``, ``duration`` (seconds,
written for readers) and ``meta`` (``split``; ``noise`` for Libri2Mix's noisy mixtures).

- WSJ0-2mix: ROOT/wav8k|wav16k/min|max/tr|cv|tt/{mix,s1,s2}/<utt1>_<snr1>_<utt2>_<snr2>.wav;
  a WSJ0 speaker is the first 3 characters of an utterance id.
- Libri2Mix: ROOT/Libri2Mix/wav16k|wav8k/min|max/<split>/{mix_clean,mix_both,mix_single,s1,s2,noise}/
  listed by metadata/mixture_<split>_<mix>.csv (mixture_ID, mixture_path, source_<k>_path,
  [noise_path], length) with SNRs in metadata/metrics_<split>_<mix>.csv (source_<k>_SNR); a
  mixture_ID joins LibriSpeech utterance ids ``<spk>-<chapter>-<utt>`` with ``_``. The CSVs
  hold absolute paths of the machine that generated them, so each is re-rooted into ROOT by its
  last two parts (folder/file).
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import CorpusError
from ..progress import Progress, silent
from .manifest import read_jsonl
from .prepare import Prepared, finish, partial_path, probe_files, warn_skipped

WSJ_LAYOUT = "wav8k|wav16k/min|max/tr|cv|tt/mix/<utt1>_<snr1>_<utt2>_<snr2>.wav"


@dataclass(frozen=True)
class Mixture:
    id: str
    path: str
    sources: tuple[str, ...]
    speakers: tuple[str, ...]
    num_samples: int
    sample_rate: int
    snr_db: tuple[float, ...] | None = None
    meta: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "duration": round(self.duration, 4)}

    @classmethod
    def from_dict(cls, d: dict) -> Mixture:
        d = {k: v for k, v in d.items() if k != "duration"}
        snr = d.get("snr_db")
        return cls(
            **{
                **d,
                "sources": tuple(d["sources"]),
                "speakers": tuple(d["speakers"]),
                "snr_db": None if snr is None else tuple(snr),
            }
        )


def load_mixtures(path: str | Path) -> list[Mixture]:
    return read_jsonl(path, Mixture.from_dict)


def _write(
    drafts: list[Mixture], root: Path, out: str | Path, jobs: int, progress: Progress, desc: str
) -> Prepared:
    """Probe every mixture and source file; a mixture with any unreadable file is skipped."""
    probed = probe_files(
        (p for m in drafts for p in (m.path, *m.sources)),
        partial=partial_path(out),
        jobs=jobs,
        progress=progress,
        desc=desc,
    )
    warn_skipped(probed.bad, root)
    kept = [
        dataclasses.replace(m, num_samples=probed.info[m.path][0], sample_rate=probed.info[m.path][1])
        for m in drafts
        if all(p in probed.info for p in (m.path, *m.sources))
    ]
    if not kept:
        raise FileNotFoundError(f"{root}: no readable mixtures")
    finish(out, (m.to_dict() for m in kept))
    return Prepared(
        Path(out), len(kept), "mixtures", len({s for m in kept for s in m.speakers}), len(probed.bad)
    )


def _wsj_name(path: Path) -> tuple[list[str], tuple[float, ...]]:
    parts = path.stem.split("_")
    try:
        if len(parts) < 4 or len(parts) % 2:
            raise ValueError
        return parts[::2], tuple(float(x) for x in parts[1::2])
    except ValueError:
        raise CorpusError(f"{path}: not a WSJ0-mix name <utt1>_<snr1>_<utt2>_<snr2>.wav") from None


def prepare_wsj0_2mix(
    root: str | Path,
    out: str | Path,
    *,
    rate: str = "8k",
    mode: str = "min",
    splits: list[str] | None = None,
    jobs: int = 4,
    progress: Progress = silent,
) -> Prepared:
    """ROOT/wav<rate>/<mode>/<split>/mix/*.wav -> mixture manifest; SNRs and speakers from the names."""
    root = Path(root).resolve()
    base = root / f"wav{rate}" / mode
    drafts = []
    for split in splits or [s for s in ("tr", "cv", "tt") if (base / s).is_dir()] or ["tr"]:
        mixes = sorted((base / split / "mix").glob("*.wav"))
        if not mixes:
            raise FileNotFoundError(f"{base / split / 'mix'}: no mixtures (WSJ0-2mix layout {WSJ_LAYOUT})")
        for mix in mixes:
            utts, snrs = _wsj_name(mix)
            sources = tuple(str(base / split / f"s{k}" / mix.name) for k in range(1, len(utts) + 1))
            drafts.append(
                Mixture(
                    f"{split}/{mix.stem}",
                    str(mix),
                    sources,
                    tuple(u[:3] for u in utts),
                    0,
                    0,
                    snrs,
                    {"split": split},
                )
            )
    return _write(drafts, root, out, jobs, progress, "wsj0-2mix")


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such metadata file")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise CorpusError(
                f"{path}: no column {', '.join(missing)} (columns: {', '.join(reader.fieldnames or [])})"
            )
        return list(reader)


def _count_sources(row: dict[str, str], column: str) -> int:
    """How many ``source_<k>_<column>`` columns: 2 in Libri2Mix, 1 in its mix_single, 3 in Libri3Mix."""
    return sum(1 for k in row if k.startswith("source_") and k.endswith(f"_{column}"))


def _libri2mix_row(
    row: dict[str, str], split_dir: Path, snrs: dict[str, tuple[float, ...]], split: str, where: str
) -> Mixture:
    def local(p: str) -> str:  # re-rooted: the CSV names the generating machine's paths
        return str(split_dir / PurePosixPath(p).parent.name / PurePosixPath(p).name)

    n = _count_sources(row, "path")
    sources = tuple(local(row[f"source_{k}_path"]) for k in range(1, n + 1))
    utts = (row.get("original_mixture_ID") or row["mixture_ID"]).split("_")
    if len(utts) < n:
        raise CorpusError(
            f"{where}: mixture_ID {row['mixture_ID']!r} names fewer than {n} LibriSpeech utterances"
        )
    meta = {"split": split, **({"noise": local(row["noise_path"])} if row.get("noise_path") else {})}
    return Mixture(
        f"{split}/{row['mixture_ID']}",
        local(row["mixture_path"]),
        sources,
        tuple(u.split("-")[0] for u in utts[:n]),
        0,
        0,
        snrs.get(row["mixture_ID"]),
        meta,
    )


def prepare_libri2mix(
    root: str | Path,
    out: str | Path,
    *,
    rate: str = "16k",
    mode: str = "min",
    mix: str = "mix_clean",
    splits: list[str] | None = None,
    jobs: int = 4,
    progress: Progress = silent,
) -> Prepared:
    """Libri2Mix/wav<rate>/<mode>/metadata/mixture_<split>_<mix>.csv for each split (default:
    every one there) -> mixture manifest."""
    root = Path(root).resolve()
    base = (root if root.name == "Libri2Mix" else root / "Libri2Mix") / f"wav{rate}" / mode
    metadata = base / "metadata"
    found = sorted(
        p.name[len("mixture_") : -len(f"_{mix}.csv")] for p in metadata.glob(f"mixture_*_{mix}.csv")
    )
    if not (splits or found):
        raise FileNotFoundError(f"{metadata}: no Libri2Mix metadata mixture_<split>_{mix}.csv")
    drafts = []
    for split in splits or found:
        csv_path = metadata / f"mixture_{split}_{mix}.csv"
        rows = _read_csv(csv_path, ("mixture_ID", "mixture_path", "source_1_path"))
        metrics = metadata / f"metrics_{split}_{mix}.csv"
        snrs = {}
        if metrics.is_file():
            for r in _read_csv(metrics, ("mixture_ID", "source_1_SNR")):
                snrs[r["mixture_ID"]] = tuple(
                    float(r[f"source_{k}_SNR"]) for k in range(1, _count_sources(r, "SNR") + 1)
                )
        drafts += [
            _libri2mix_row(row, base / split, snrs, split, f"{csv_path}:{i}") for i, row in enumerate(rows, 2)
        ]
    return _write(drafts, root, out, jobs, progress, "libri2mix")
