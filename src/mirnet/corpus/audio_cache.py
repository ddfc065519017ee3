"""A decoded-audio cache (``mirnet corpus cache``): every utterance of a corpus decoded once into
int16 shards plus an index, memory-mapped by the data workers, so on-the-fly mixing skips FLAC
decoding, its largest cost (docs/lab/benchmarks.md, data pipeline).

Decoded 16-bit samples are the same integers whatever decodes them, and libsndfile turns them
into floats by a power-of-two scale, so a crop read from the cache is bit-identical to one read
from the file (tested on whole mixtures). Only 16-bit PCM files are cached: anything else would
change its samples. Each file's size and modification time are recorded; a corpus changed after
caching is refused in one line at open, never read stale.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import atomic_path, write_text
from ..audio import AudioError, check_waveform, to_mono_16k
from ..errors import CorpusError
from ..progress import Progress, silent
from .manifest import Manifest, Utterance

INDEX = "index.json"
SHARD_BYTES = 256 * 2**20  # a shard per ~256 MB of samples: files a filesystem and mmap handle well
_SCALE = np.float32(1 / 32768)  # libsndfile's int16 -> float normalisation


def _stamp(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def _decode(utt: Utterance) -> np.ndarray:
    """(frames, channels) int16 of a 16-bit PCM file; any other file is refused by name."""
    try:
        subtype = sf.info(utt.path).subtype
        if subtype != "PCM_16":
            raise CorpusError(
                f"{utt.path}: {subtype} audio; the cache holds 16-bit PCM only (other samples would change)"
            )
        return sf.read(utt.path, dtype="int16", always_2d=True)[0]
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(utt.path, f"unreadable audio ({exc.__class__.__name__}: {exc})") from None


def build_cache(manifest: Manifest, out: str | Path, progress: Progress = silent) -> Path:
    """Decode ``manifest`` into ``out``: shards ``shard-NNN.npy`` (int16, channels interleaved)
    and ``index.json``, written last, so an interrupted build leaves no usable cache."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries, shard, parts, used = {}, 0, [], 0

    def flush() -> None:
        nonlocal shard, parts, used
        if parts:
            with atomic_path(out / f"shard-{shard:03d}.npy") as tmp, tmp.open("wb") as f:
                np.save(f, np.concatenate(parts))
            shard, parts, used = shard + 1, [], 0

    for utt in progress(manifest, desc="decoding", leave=False):
        samples = _decode(utt)
        if used and (used + samples.size) * 2 > SHARD_BYTES:
            flush()
        entries[utt.id] = {
            "shard": shard,
            "offset": used,
            "frames": samples.shape[0],
            "channels": samples.shape[1],
            "sample_rate": utt.sample_rate,
            "file": _stamp(utt.path),
        }
        parts.append(samples.reshape(-1))
        used += samples.size
    flush()
    index = {"fingerprint": manifest.fingerprint(), "source": manifest.source, "utterances": entries}
    write_text(out / INDEX, json.dumps(index) + "\n")
    return out


class AudioCache:
    """Reads crops of a corpus's utterances from a cache ``build_cache`` wrote, as ``load_audio``
    would from the files. Shards are memory-mapped on first use in each process (a DataLoader
    worker maps its own; the page cache is shared), and never pickled."""

    def __init__(self, root: Path, entries: dict[str, dict]):
        self.root, self.entries = root, entries
        self._shards: dict[int, np.ndarray] = {}

    @classmethod
    def open(cls, root: str | Path, manifest: Manifest) -> AudioCache:
        """The cache at ``root`` for ``manifest``, refused in one line if it was built from other
        utterances or any file changed since."""
        root = Path(root)
        try:
            index = json.loads((root / INDEX).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CorpusError(
                f"{root}: not a complete audio cache ({exc.__class__.__name__}); make it with "
                f"mirnet corpus cache"
            ) from None
        if index["fingerprint"] != manifest.fingerprint():
            raise CorpusError(
                f"{root}: cached from a corpus with fingerprint {index['fingerprint']}, but "
                f"{manifest.source} has {manifest.fingerprint()}; rebuild it with mirnet corpus cache"
            )
        entries = index["utterances"]
        for utt in manifest:
            if utt.id not in entries or _stamp(utt.path) != entries[utt.id]["file"]:
                raise CorpusError(
                    f"{root}: {utt.path} changed after caching; rebuild it with mirnet corpus cache"
                )
        return cls(root, entries)

    def __getstate__(self) -> dict:
        return {"root": self.root, "entries": self.entries, "_shards": {}}

    def _shard(self, i: int) -> np.ndarray:
        if i not in self._shards:
            self._shards[i] = np.load(self.root / f"shard-{i:03d}.npy", mmap_mode="r")
        return self._shards[i]

    def read(self, utt: Utterance, start: int = 0, frames: int = -1) -> np.ndarray:
        """``load_audio(utt.path, start=start, frames=frames)``, from the cache (a ``mixing.Reader``)."""
        e = self.entries[utt.id]
        ch, total = e["channels"], e["frames"]
        start = min(max(start, 0), total)
        stop = total if frames < 0 else min(start + frames, total)
        data = self._shard(e["shard"])[e["offset"] + start * ch : e["offset"] + stop * ch]
        wav = data.astype(np.float32).reshape(-1, ch) * _SCALE
        wav = to_mono_16k(wav[:, 0] if ch == 1 else wav, e["sample_rate"], utt.path)
        return check_waveform(wav, utt.path)
