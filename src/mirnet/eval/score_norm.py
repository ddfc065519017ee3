"""Score normalisation against a cohort: the embeddings a system gives mixtures of voices it was
trained on, kept in a file (``mirnet cohort``) and used by ``mirnet eval --cohort
[--score-norm asnorm|mean]``.

Why: a raw cosine carries each side's own offset. A separated stream with the other talker's
residue, or a voice far from the training voices, sits close to many voices at once, and one
threshold cannot serve every side. AS-norm (Cumani et al. 2011; Matejka et al. 2017) scores each
side against the ``top_k`` cohort embeddings closest to it and normalises by their mean and spread:

    z(a, b) = ((s - mu_a) / sigma_a + (s - mu_b) / sigma_b) / 2,    s = cos(a, b)

where mu_a, sigma_a are the mean and standard deviation of a's ``top_k`` highest cosines to the
cohort. WeSpeaker's recipes score this way (top 300 of per-speaker means of the training set).
Here a cohort holds every output of mixtures drawn from the training voices, so it is scored in
the condition the trials are; the trial's score is still the closest output pair (paper eq. 6/7),
now of normalised scores. The cohort must never hold the trials' speakers: it is drawn from
the seen voices, and the trials from others.

``mean`` is the simpler way, WeSpeaker's default cosine scoring: the cohort's mean unit
embedding is subtracted from both sides before the cosine. An embedding network with a ReLU
before its output (GE2E's) puts every embedding in one orthant, where all cosines are high; the
common offset goes, and what tells voices apart stays."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import atomic_path
from ..distances import pairwise_cosine_distance
from ..errors import InputError
from . import SCORE_NORMS, TOP_K

SHIPPED_COHORT = "cohort.npz"  # a shipped model's own cohort, beside its model file


@dataclass
class Cohort:
    embeddings: np.ndarray  # (C, E) unit vectors
    system: str  # the fingerprint of the system that embedded them (``evaluate.system_fingerprint``)
    meta: dict = field(default_factory=dict)  # how the mixtures were drawn
    source: str = "<cohort>"  # the file it was read from, for errors

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({**self.meta, "system": self.system})
        with atomic_path(path) as tmp, tmp.open("wb") as f:  # a file: savez would add ".npz"
            np.savez(f, embeddings=self.embeddings.astype(np.float32), meta=np.array(meta))
        return path

    @classmethod
    def load(cls, path: str | Path, system: str | None = None) -> Cohort:
        """The cohort at ``path``; refused in one line unless made by the system ``system``."""
        try:
            with np.load(path, allow_pickle=False) as f:
                embeddings, meta = f["embeddings"], json.loads(str(f["meta"]))
        except Exception as exc:  # a truncated zip, a missing key, not a zip at all: all one thing to a user
            why = f"{exc.__class__.__name__}: {str(exc)[:200]}"
            raise InputError(f"{path}: not a cohort ({why}); write one with mirnet cohort") from None
        if system is not None and meta.get("system") != system:
            raise InputError(f"{path}: a cohort of model {meta.get('system')}, this model is {system}")
        # a NaN or empty cohort does not fail: it turns every score into NaN, and a diarization
        # of five speakers into one
        if embeddings.ndim != 2 or not len(embeddings) or not np.issubdtype(embeddings.dtype, np.floating):
            raise InputError(
                f"{path}: a cohort must hold (embeddings, dims) floats, got {embeddings.dtype} {embeddings.shape}"
            )
        if not np.isfinite(embeddings).all() or (np.linalg.norm(embeddings, axis=1) < 1e-6).any():
            raise InputError(f"{path}: a cohort with NaN, infinite or zero embeddings")
        return cls(embeddings, meta.pop("system"), meta, str(path))


@dataclass(frozen=True)
class ScoreNorm:
    """How output pairs are compared against a cohort: ``method`` (``SCORE_NORMS``), the cohort's
    unit embeddings, and the cohort scores AS-norm takes per side. ``precision``: the one the
    cohort was embedded at, where its file records it (older cohorts do not)."""

    method: str
    cohort: np.ndarray  # (C, E)
    top_k: int = TOP_K
    precision: str | None = None
    source: str = "<cohort>"  # the cohort's file, for errors

    def __post_init__(self):
        if self.method not in SCORE_NORMS:
            raise InputError(f"--score-norm: expected one of {', '.join(SCORE_NORMS)}, got {self.method!r}")
        if self.method == "asnorm" and self.top_k < 2:
            raise InputError(f"--top-k: AS-norm needs at least 2 cohort scores per side, got {self.top_k}")

    @classmethod
    def from_file(cls, method: str, path: str | Path, system: str, top_k: int = TOP_K) -> ScoreNorm:
        """Against the cohort at ``path``, which the system ``system`` must have made."""
        cohort = Cohort.load(path, system)
        return cls(method, cohort.embeddings, top_k, cohort.meta.get("precision"), cohort.source)

    def pairwise(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, N, E), (B, M, E) -> (B, N, M) distances that ``distances.closest_pair_distance``
        reduces as it reduces the raw ones."""
        check_width(self.cohort, a.shape[-1], self.source)
        cohort = torch.as_tensor(self.cohort, dtype=torch.float32)
        a, b = a.float(), b.float()
        if self.method == "mean":
            centre = cohort.mean(0)
            return pairwise_cosine_distance(subtract_mean(a, centre), subtract_mean(b, centre))
        return pairwise_asnorm_distance(a, b, cohort, self.top_k)

    def record(self, path: str | Path) -> dict:
        """What a result records of it (``mirnet verify`` reads it back from a calibration)."""
        return {
            "method": self.method,
            "top_k": self.top_k,
            "cohort": str(path),
            "cohort_size": len(self.cohort),
            **({"cohort_precision": self.precision} if self.precision else {}),
        }


def check_width(cohort: np.ndarray, embed_dim: int, source: str) -> None:
    """A cohort of another width than the model's embeddings fails inside torch otherwise."""
    if cohort.shape[1] != embed_dim:
        raise InputError(
            f"{source}: a cohort of {cohort.shape[1]}-dimensional embeddings, this model's are {embed_dim}-dimensional"
        )


def subtract_mean(emb: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """(..., E) embeddings, (E,) a cohort's mean unit embedding -> (..., E) unit vectors of each unit
    embedding less the centre: their cosines are ``mean`` normalisation's scores."""
    return F.normalize(F.normalize(emb.float(), dim=-1) - centre, dim=-1)


def cohort_stats(emb: torch.Tensor, cohort: torch.Tensor, top_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., E) embeddings, (C, E) unit cohort -> mean and standard deviation (...,) of each
    embedding's ``top_k`` highest cosines to the cohort."""
    scores = F.normalize(emb, dim=-1) @ cohort.T
    top = scores.topk(min(top_k, cohort.shape[0]), dim=-1).values
    return top.mean(-1), top.std(-1, correction=0).clamp_min(1e-6)


def pairwise_asnorm_distance(
    a: torch.Tensor, b: torch.Tensor, cohort: np.ndarray | torch.Tensor, top_k: int = TOP_K
) -> torch.Tensor:
    """(B, N, E), (B, M, E) -> (B, N, M) minus the AS-norm score of each output pair, a distance
    that ``distances.closest_pair_distance`` reduces as it reduces the raw ones."""
    cohort = torch.as_tensor(cohort, dtype=a.dtype)
    s = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(-1, -2)
    mu_a, sd_a = cohort_stats(a, cohort, top_k)
    mu_b, sd_b = cohort_stats(b, cohort, top_k)
    z = ((s - mu_a[..., :, None]) / sd_a[..., :, None] + (s - mu_b[..., None, :]) / sd_b[..., None, :]) / 2
    return -z
