"""Verification between two recordings and identification against an enrolled gallery, on any
embedder, by the protocol's own distance (``distances``: min over output pairs, paper eq. 6/7),
so a decision here is the decision an evaluation scored.

A threshold comes from a ``mirnet eval --json`` result (its ``eer_threshold``: the score, that
is the negated distance, at its EER operating point) or is given. A result scored against a cohort
(``eval --cohort``) has its threshold on normalised scores, so verify then scores against the
same cohort the same way (``eval.score_norm``). A calibration or a gallery made
by another model file is refused: scores of two models do not share a scale.

A gallery is a folder holding one file, ``gallery.npz``: one unit embedding per enrolled
recording and output, the index of its name, and the metadata as JSON text (names, the files each
was enrolled from, the model's fingerprint). One file, replaced atomically, so a reader sees the
gallery before or after a save and never half of each; a kill mid-save leaves the previous one. An
enrolment holds an exclusive lock on ``.lock`` in the folder from reading the gallery to saving it,
so concurrent enrolments are all kept (the embedding, the slow part, happens before the lock).
A gallery of the older two-file layout (metadata in ``gallery.json``) still opens; its next save
writes the one file and removes ``gallery.json``. A name stands for the normalised mean of its
unit embeddings.
"""

from __future__ import annotations

import fcntl
import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..api import Embedder
from ..atomic import atomic_path
from ..audio import SAMPLE_RATE, read_audio, read_header
from ..distances import pairwise_distance
from ..errors import InputError
from ..eval.score_norm import ScoreNorm
from ..losses.pit import best_permutation
from . import VERIFY_CONDITIONS
from .calibration import beside, read_calibration, shipped_calibration

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Threshold:
    """A decision threshold on scores (-distance) and where it came from."""

    value: float
    metric: str = "cosine"
    source: str = "given"
    condition: str | None = None  # the evaluation condition it was measured under
    norm: ScoreNorm | None = None  # output pairs compared against a cohort (``eval.score_norm``)

    @classmethod
    def from_calibration(cls, path: str | Path, fingerprint: str) -> Threshold:
        """The EER threshold of a ``mirnet eval --json`` result of the model ``fingerprint``, with
        the cohort it was normalised by, if any."""
        result = read_calibration(path, fingerprint, "eer_threshold", "mirnet eval EXP --json FILE")
        norm = result.get("score_norm")
        cohort = beside(path, norm["cohort"]) if norm else None
        return cls(
            float(result["eer_threshold"]),
            result.get("metric", "cosine"),
            str(path),
            result.get("condition"),
            ScoreNorm.from_file(norm["method"], cohort, fingerprint, norm["top_k"]) if norm else None,
        )


def resolve_threshold(
    threshold: float | None,
    calibration: str | Path | None,
    embedder: Embedder,
    metric: str = "cosine",
    condition: str = "mixture",
    calibrated: bool = True,
) -> Threshold | None:
    """The threshold given, else the calibration given, else (``calibrated``) the one the model
    ships for the trial ``condition`` (``calibration.SHIPPED``); None where there is none: scores,
    no decision."""
    if threshold is not None and calibration is not None:
        raise InputError("give a threshold or a calibration file, not both")
    if condition not in VERIFY_CONDITIONS:
        raise InputError(f"condition must be one of {', '.join(VERIFY_CONDITIONS)}, got {condition!r}")
    if threshold is None and calibration is None and calibrated:
        calibration = shipped_calibration(embedder.source, condition)
    if calibration is not None:
        return Threshold.from_calibration(calibration, embedder.fingerprint)
    return None if threshold is None else Threshold(float(threshold), metric)


@dataclass(frozen=True)
class Verification:
    score: float  # -distance of the closest output pair: higher = more alike
    pair: tuple[int, int]  # (output of A, output of B) that matched
    metric: str
    threshold: float | None
    accepted: bool | None  # None without a threshold
    threshold_source: str | None = None
    condition: str | None = None  # the trial condition the threshold was measured under

    def to_dict(self) -> dict:
        return asdict(self)


def _distances(
    a: torch.Tensor, b: torch.Tensor, threshold: Threshold | None, metric: str
) -> tuple[torch.Tensor, str]:
    """(N, D), (M, D) -> (N, M) distances on the scale of ``threshold`` (its metric, normalised
    against its cohort when it has one), and the metric's name."""
    if threshold is None:
        return pairwise_distance(a[None].float(), b[None].float(), metric)[0], metric
    if threshold.norm is None:
        return pairwise_distance(a[None].float(), b[None].float(), threshold.metric)[0], threshold.metric
    return threshold.norm.pairwise(a[None], b[None])[0], f"{threshold.metric}+{threshold.norm.method}"


def verify_embeddings(
    a: torch.Tensor, b: torch.Tensor, threshold: Threshold | None, metric: str = "cosine"
) -> Verification:
    """(N, D) and (M, D) embeddings of two recordings -> the protocol's score and decision."""
    d, metric = _distances(a, b, threshold, metric)
    i, j = divmod(int(d.argmin()), d.shape[1])
    score = -float(d[i, j])
    return Verification(
        score,
        (i, j),
        metric,
        None if threshold is None else threshold.value,
        None if threshold is None else score >= threshold.value,
        None if threshold is None else threshold.source,
        None if threshold is None else threshold.condition,
    )


@dataclass(frozen=True)
class Match:
    output: int
    name: str  # the gallery name, or UNKNOWN below the threshold
    best: str  # the gallery name it is closest to, whatever the threshold
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


class Gallery:
    """Enrolled names of one model: unit embeddings per recording, a centroid per name."""

    NPZ, JSON, LOCK = "gallery.npz", "gallery.json", ".lock"  # JSON: the older layout's metadata

    def __init__(self, path: str | Path, fingerprint: str, embed_dim: int, model: str = ""):
        self.path, self.fingerprint, self.embed_dim, self.model = Path(path), fingerprint, embed_dim, model
        self.names: list[str] = []
        self.files: dict[str, list[str]] = {}
        self.embeddings = np.zeros((0, embed_dim), np.float32)
        self.owner = np.zeros(0, np.int64)

    @classmethod
    def open(
        cls, path: str | Path, fingerprint: str, embed_dim: int, model: str = "", create: bool = False
    ) -> Gallery:
        """The gallery at ``path``, which must have been made by the model ``fingerprint``; a new
        empty one if there is none and ``create``. Needs no lock: the file is replaced whole."""
        path = Path(path)
        npz_file, meta_file = path / cls.NPZ, path / cls.JSON
        if not npz_file.exists() and not meta_file.exists():
            if create:
                return cls(path, fingerprint, embed_dim, model)
            raise InputError(
                f"{path}: no gallery here (make one with mirnet enroll EXP --gallery {path} NAME FILE...)"
            )

        def bad(problem: str) -> InputError:
            return InputError(f"{path}: unreadable gallery: {problem}")

        source, meta, arrays = cls._read(path, bad)
        if meta["model_fingerprint"] != fingerprint:
            raise InputError(
                f"{path}: gallery made by model {meta['model_fingerprint']}, this model is {fingerprint}"
            )
        names, files, dim = meta["names"], meta["files"], meta["embed_dim"]
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise bad(f"{source}: embed_dim {dim!r} is not a positive integer")
        if (
            not isinstance(names, list)
            or not all(isinstance(n, str) for n in names)
            or len(set(names)) < len(names)
        ):
            raise bad(f"{source}: names are not a list of distinct strings")
        if (
            not isinstance(files, dict)
            or set(files) != set(names)
            or not all(isinstance(v, list) and all(isinstance(f, str) for f in v) for v in files.values())
        ):
            raise bad(f"{source}: files are not one list of file names per name")
        embeddings, owner = arrays["embeddings"], arrays["owner"]
        if (
            embeddings.ndim != 2
            or embeddings.shape[1] != dim
            or not np.issubdtype(embeddings.dtype, np.floating)
        ):
            raise bad(
                f"{cls.NPZ}: embeddings of shape {embeddings.shape} {embeddings.dtype}, not (K, {dim}) float"
            )
        if owner.shape != (len(embeddings),) or not np.issubdtype(owner.dtype, np.integer):
            raise bad(
                f"{cls.NPZ}: owner of shape {owner.shape} {owner.dtype}, not ({len(embeddings)},) integer"
            )
        outside = owner[(owner < 0) | (owner >= len(names))]
        if len(outside):
            raise bad(f"{cls.NPZ}: owner index {int(outside[0])} out of range for {len(names)} names")
        gallery = cls(path, fingerprint, dim, str(meta.get("model", model)))
        gallery.names, gallery.files = list(names), {k: list(v) for k, v in files.items()}
        gallery.embeddings, gallery.owner = embeddings.astype(np.float32), owner.astype(np.int64)
        return gallery

    @classmethod
    def _read(cls, path: Path, bad: Callable[[str], InputError]) -> tuple[str, dict, dict[str, np.ndarray]]:
        """(the file the metadata came from, the metadata, the arrays), or ``bad(problem)`` raised
        for a file that cannot be read, lacks a key or holds no JSON object."""
        npz_file, meta_file = path / cls.NPZ, path / cls.JSON
        try:
            z = np.load(npz_file, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:  # a pickle: ValueError
            problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise bad(f"{cls.NPZ}: {' '.join(problem.split()) or type(exc).__name__}") from None
        for key in ("embeddings", "owner"):
            if key not in arrays:
                raise bad(f"{cls.NPZ} has no {key!r}")
        if "meta" in arrays:
            source, text = cls.NPZ, arrays["meta"]
            if text.dtype != np.uint8 or text.ndim != 1:
                raise bad(f"{cls.NPZ}: 'meta' is not JSON text")
            text = text.tobytes()
        else:  # the older layout: the metadata beside it
            source = cls.JSON
            try:
                text = meta_file.read_bytes()
            except OSError as exc:
                raise bad(f"{cls.NPZ} has no 'meta' and {cls.JSON} cannot be read ({exc.strerror})") from None
        try:
            meta = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad(f"{source} is not JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise bad(f"{source} is not a JSON object")
        for key in ("model_fingerprint", "embed_dim", "names", "files"):
            if key not in meta:
                raise bad(f"{source} has no {key!r}")
        return source, meta, arrays

    @classmethod
    @contextmanager
    def update(cls, path: str | Path, fingerprint: str, embed_dim: int, model: str = "") -> Iterator[Gallery]:
        """The gallery at ``path`` (a new one if none) to change, saved when the block ends without
        an exception; an exclusive lock on ``.lock`` is held from the read to the save, so a
        concurrent update waits and then reads this one's result instead of overwriting it."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / cls.LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed, or by the kernel on a kill
            gallery = cls.open(path, fingerprint, embed_dim, model, create=True)
            yield gallery
            gallery.save()
        finally:
            os.close(fd)

    def enroll(self, name: str, embeddings: torch.Tensor, files: list[str]) -> None:
        """Add recordings of ``name``: (K, D) embeddings (every output of every recording)."""
        if not name or name == UNKNOWN:
            raise InputError(f"enroll: {name!r} cannot be a name")
        if embeddings.shape[-1] != self.embed_dim:
            raise InputError(
                f"enroll: {embeddings.shape[-1]}-dimensional embeddings, gallery holds {self.embed_dim}"
            )
        if name not in self.names:
            self.names.append(name)
            self.files[name] = []
        unit = F.normalize(embeddings.float(), dim=-1).numpy()
        self.embeddings = np.concatenate([self.embeddings, unit])
        self.owner = np.concatenate([self.owner, np.full(len(unit), self.names.index(name))])
        self.files[name] += files

    def centroids(self) -> torch.Tensor:
        """(names, D) unit vectors: each name's normalised mean unit embedding."""
        sums = np.zeros((len(self.names), self.embed_dim), np.float32)
        np.add.at(sums, self.owner, self.embeddings)
        return F.normalize(torch.from_numpy(sums), dim=-1)

    def save(self) -> None:
        """One file, replaced atomically; a two-file gallery's ``gallery.json`` goes after it, so a
        kill in between leaves a gallery whose own metadata (in the npz) is read first."""
        meta = {
            "model_fingerprint": self.fingerprint,
            "model": self.model,
            "embed_dim": self.embed_dim,
            "names": self.names,
            "files": self.files,
        }
        text = np.frombuffer((json.dumps(meta, indent=1) + "\n").encode(), np.uint8)
        with atomic_path(self.path / self.NPZ) as tmp, tmp.open("wb") as f:  # savez would add ".npz"
            np.savez(f, embeddings=self.embeddings, owner=self.owner, meta=text)
        (self.path / self.JSON).unlink(missing_ok=True)

    def identify(
        self, identities: torch.Tensor, threshold: Threshold | None, metric: str = "cosine"
    ) -> list[Match]:
        """(N, D) identities of one mixture -> one Match per identity. The N identities are
        different talkers, so when the gallery holds at least N names they get different names
        (the assignment of highest summed score, by the one permutation helper); below the
        threshold a name becomes ``unknown``."""
        if not self.names:
            raise InputError(f"{self.path}: the gallery is empty")
        d = _distances(identities, self.centroids(), threshold, metric)[0]  # (N, names)
        n = d.shape[0]
        if len(self.names) >= n:
            # each identity's name in the best assignment is among its n closest names
            cols = torch.topk(-d, n, dim=1).indices.flatten().unique()
            square = torch.cat([d[:, cols], d.new_zeros(len(cols) - n, len(cols))])  # rows for no one
            best = cols[best_permutation(square[None])[0, :n]]
        else:
            best = d.argmin(dim=1)
        matches = []
        for k in range(n):
            score = -float(d[k, best[k]])
            name = self.names[int(best[k])]
            keep = threshold is None or score >= threshold.value
            matches.append(Match(k, name if keep else UNKNOWN, name, score))
        return matches


Audio = str | Path | np.ndarray | torch.Tensor  # a file, or a waveform at ``sample_rate``


def _embedder(system: Embedder | str | Path) -> Embedder:
    return system if isinstance(system, Embedder) else Embedder.from_pretrained(system)


def _embed(embedder: Embedder, audio: Audio, sample_rate: int) -> torch.Tensor:
    if isinstance(audio, str | Path):
        return embedder.embed_file(audio)
    return embedder.embed(audio, sample_rate)


def verify(
    system: Embedder | str | Path,
    a: Audio,
    b: Audio,
    *,
    threshold: float | None = None,
    calibration: str | Path | None = None,
    calibrated: bool = True,
    condition: str = "mixture",
    metric: str = "cosine",
    sample_rate: int = SAMPLE_RATE,
) -> Verification:
    """Do recordings ``a`` and ``b`` share a speaker? ``condition`` says what they are: two
    mixtures, a mixture and one clean voice (``enrolled``), or two clean voices (``clean``).
    Decided at ``threshold``, or ``calibration``'s, or the one the model ships for ``condition``
    (unless not ``calibrated``)."""
    embedder = _embedder(system)
    limit = resolve_threshold(threshold, calibration, embedder, metric, condition, calibrated)
    return verify_embeddings(
        _embed(embedder, a, sample_rate), _embed(embedder, b, sample_rate), limit, metric
    )


def enroll(
    system: Embedder | str | Path,
    gallery: str | Path,
    name: str,
    recordings: list[Audio],
    *,
    sample_rate: int = SAMPLE_RATE,
) -> Gallery:
    """Add clean recordings of ``name`` to the gallery folder (made if new), saved atomically.
    The recordings are embedded first, outside the gallery's lock; concurrent enrolments into one
    gallery wait for each other only for the read-add-save, and none is lost."""
    embedder = _embedder(system)
    if not recordings:
        raise InputError(f"enroll: no recordings of {name!r}")
    args = (gallery, embedder.fingerprint, embedder.embed_dim, embedder.source)
    Gallery.open(*args, create=True)  # a gallery of another model fails before the embedding
    emb = torch.cat([_embed(embedder, r, sample_rate) for r in recordings])
    with Gallery.update(*args) as found:
        found.enroll(name, emb, [str(r) if isinstance(r, str | Path) else "<waveform>" for r in recordings])
    return found


def identify(
    system: Embedder | str | Path,
    mixture: Audio,
    gallery: str | Path,
    *,
    threshold: float | None = None,
    calibration: str | Path | None = None,
    calibrated: bool = True,
    metric: str = "cosine",
    sample_rate: int = SAMPLE_RATE,
) -> list[Match]:
    """Who of the gallery is in ``mixture``: one Match per identity of the mixture, ``unknown``
    below the threshold (as ``verify`` chooses it, from the enrolled condition's calibration)."""
    embedder = _embedder(system)
    limit = resolve_threshold(threshold, calibration, embedder, metric, "enrolled", calibrated)
    found = Gallery.open(gallery, embedder.fingerprint, embedder.embed_dim)
    return found.identify(_embed(embedder, mixture, sample_rate), limit, metric)


def name_speakers(
    embedder: Embedder, path: str | Path, diarization, gallery: Gallery, limit: Threshold | None
) -> dict[str, Match]:
    """Each diarized speaker of the recording at ``path`` -> its gallery Match: up to 10 s where
    it talks alone (``Diarization.alone``) embedded as one clip and identified as ``identify``
    does at ``limit`` (``resolve_threshold``'s; ``unknown`` below it), its best output kept. A
    name goes to one speaker only, the one that scores it highest; the others are ``unknown``,
    closest to it."""
    rate = read_header(path).sample_rate
    names = {}
    for speaker in sorted({t.speaker for t in diarization.turns}):
        stretches = diarization.alone(speaker)
        if not stretches:
            continue
        wav = np.concatenate(
            [read_audio(path, start=round(a * rate), frames=round((b - a) * rate)) for a, b in stretches]
        )
        if len(wav) < embedder.shortest_seconds * SAMPLE_RATE:
            continue
        matches = gallery.identify(embedder.embed(wav), limit)
        names[speaker] = max(matches, key=lambda m: m.score)
    taken: set[str] = set()
    for speaker, m in sorted(names.items(), key=lambda item: -item[1].score):
        if m.name != UNKNOWN and m.name in taken:
            names[speaker] = Match(m.output, UNKNOWN, m.best, m.score)
        taken.add(m.name)
    return names
