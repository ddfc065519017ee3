"""Verification between two recordings and identification against an enrolled gallery, on any
embedder, by the protocol's own distance (``distances``: min over output pairs, paper eq. 6/7),
so a decision here is the decision an evaluation scored.

A threshold comes from a ``mirnet eval --json`` result (its ``eer_threshold``: the score, that
is the negated distance, at its EER operating point) or is given. A result scored against a cohort
(``eval --cohort``) has its threshold on normalised scores, so verify then scores against the
same cohort the same way (``eval.score_norm``). A calibration or a gallery made
by another model file is refused: scores of two models do not share a scale.

A gallery is a folder of two plain files: ``gallery.npz`` (one unit embedding per enrolled
recording and output, and the index of its name) and ``gallery.json`` (names, the files each was
enrolled from, the model's fingerprint). A name stands for the normalised mean of its unit
embeddings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..api import Embedder
from ..atomic import atomic_path, write_text
from ..audio import SAMPLE_RATE
from ..distances import pairwise_distance
from ..errors import InputError
from ..eval.score_norm import ScoreNorm
from ..losses.pit import best_permutation
from .calibration import read_calibration

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
        return cls(
            float(result["eer_threshold"]),
            result.get("metric", "cosine"),
            str(path),
            result.get("condition"),
            ScoreNorm.from_file(norm["method"], norm["cohort"], fingerprint, norm["top_k"]) if norm else None,
        )


def resolve_threshold(
    threshold: float | None, calibration: str | Path | None, fingerprint: str, metric: str = "cosine"
) -> Threshold | None:
    if threshold is not None and calibration is not None:
        raise InputError("give a threshold or a calibration file, not both")
    if calibration is not None:
        return Threshold.from_calibration(calibration, fingerprint)
    return None if threshold is None else Threshold(float(threshold), metric)


@dataclass(frozen=True)
class Verification:
    score: float  # -distance of the closest output pair: higher = more alike
    pair: tuple[int, int]  # (output of A, output of B) that matched
    metric: str
    threshold: float | None
    accepted: bool | None  # None without a threshold
    threshold_source: str | None = None

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

    NPZ, JSON = "gallery.npz", "gallery.json"

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
        empty one if there is none and ``create``."""
        path = Path(path)
        meta_file, npz_file = path / cls.JSON, path / cls.NPZ
        if not meta_file.exists():
            if create:
                return cls(path, fingerprint, embed_dim, model)
            raise InputError(
                f"{path}: no gallery here (make one with mirnet enroll EXP --gallery {path} NAME FILE...)"
            )
        try:
            meta = json.loads(meta_file.read_text())
            with np.load(npz_file) as z:
                embeddings, owner = z["embeddings"].astype(np.float32), z["owner"].astype(np.int64)
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: unreadable gallery ({exc})") from None
        if meta.get("model_fingerprint") != fingerprint:
            raise InputError(
                f"{path}: gallery made by model {meta.get('model_fingerprint')}, this model is {fingerprint}"
            )
        gallery = cls(path, fingerprint, int(meta["embed_dim"]), meta.get("model", model))
        gallery.names, gallery.files = list(meta["names"]), {k: list(v) for k, v in meta["files"].items()}
        if embeddings.shape != (len(owner), gallery.embed_dim) or (
            len(owner) and owner.max() >= len(gallery.names)
        ):
            raise InputError(f"{path}: {cls.NPZ} does not match {cls.JSON}")
        gallery.embeddings, gallery.owner = embeddings, owner
        return gallery

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
        with atomic_path(self.path / self.NPZ) as tmp, tmp.open("wb") as f:
            np.savez(f, embeddings=self.embeddings, owner=self.owner)
        meta = {
            "model_fingerprint": self.fingerprint,
            "model": self.model,
            "embed_dim": self.embed_dim,
            "names": self.names,
            "files": self.files,
        }
        write_text(self.path / self.JSON, json.dumps(meta, indent=1) + "\n")

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
    metric: str = "cosine",
    sample_rate: int = SAMPLE_RATE,
) -> Verification:
    """Do recordings ``a`` and ``b`` (mixtures or single voices) share a speaker?"""
    embedder = _embedder(system)
    limit = resolve_threshold(threshold, calibration, embedder.fingerprint, metric)
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
    """Add clean recordings of ``name`` to the gallery folder (made if new), saved atomically."""
    embedder = _embedder(system)
    if not recordings:
        raise InputError(f"enroll: no recordings of {name!r}")
    found = Gallery.open(gallery, embedder.fingerprint, embedder.embed_dim, embedder.source, create=True)
    emb = torch.cat([_embed(embedder, r, sample_rate) for r in recordings])
    found.enroll(name, emb, [str(r) if isinstance(r, str | Path) else "<waveform>" for r in recordings])
    found.save()
    return found


def identify(
    system: Embedder | str | Path,
    mixture: Audio,
    gallery: str | Path,
    *,
    threshold: float | None = None,
    calibration: str | Path | None = None,
    metric: str = "cosine",
    sample_rate: int = SAMPLE_RATE,
) -> list[Match]:
    """Who of the gallery is in ``mixture``: one Match per identity of the mixture."""
    embedder = _embedder(system)
    limit = resolve_threshold(threshold, calibration, embedder.fingerprint, metric)
    found = Gallery.open(gallery, embedder.fingerprint, embedder.embed_dim)
    return found.identify(_embed(embedder, mixture, sample_rate), limit, metric)
