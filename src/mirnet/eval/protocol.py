"""Mixture speaker verification (paper section 4.1.2), for any model that maps a batch of
waveforms to (B, N, E) embeddings.

d_p = min over output pairs of d(anchor_i, positive_j), d_n likewise with the negative; the
score is -d. The same trials give four conditions (``CONDITIONS``), so each is measured on the
very same audio:

- ``mixture``: A+B vs A'+C vs C'+D, the paper's protocol: nobody is enrolled.
- ``clean``: the first source of each mixture alone (A vs A' vs C'), the bound a mixture model
  approaches.
- ``separated``: every source of every clip alone through the system, the outputs of a clip
  pooled (A, B vs A', C vs C', D): the oracle-separation bound of a single-embedding system.
- ``cascade``: the mixtures of ``mixture``, each first split by a separator, every output
  embedded and a clip's outputs pooled as in ``separated``: that bound with a real separator
  (``cascade_embed``; a single-embedding system behind a uPIT separator is the paper's
  "separate, then embed" baseline).
- ``enrolled``: the mixture A+B against clean enrollment utterances of the target (A' alone) and
  of a non-target (C' alone): the side information speaker-conditioned (VoiceFilter-style)
  systems assume. For a system with one output per clip, d = min over the mixture's
  outputs of the distance to the enrollment embedding; a system with N outputs keeps all N on the
  enrollment clip too (min over all pairs, as in the other conditions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch

from ..corpus.manifest import Manifest
from ..data.mixing import MixtureSpec, mix, read_sources
from ..distances import closest_pair_distance, pairwise_distance
from ..errors import InputError
from ..progress import Progress, silent
from . import CONDITION_NAMES
from .metrics import bootstrap_ci, eer, eer_threshold, min_dcf
from .score_norm import ScoreNorm
from .trials import Trial

EmbedFn = Callable[[torch.Tensor], torch.Tensor]  # (B, samples) at 16 kHz -> (B, N, E)


def source_spec(spec: MixtureSpec, i: int) -> MixtureSpec:
    """Source i of a mixture alone, over the whole crop, at 0 dB."""
    speeds = spec.speeds[i : i + 1] if spec.speeds else ()
    return replace(
        spec,
        utterances=spec.utterances[i : i + 1],
        speakers=spec.speakers[i : i + 1],
        offsets=spec.offsets[i : i + 1],
        gains_db=(0.0,),
        starts=(0,),
        speeds=speeds,
    )


def _whole(spec: MixtureSpec) -> list[MixtureSpec]:
    return [spec]


def _first_source(spec: MixtureSpec) -> list[MixtureSpec]:
    return [source_spec(spec, 0)]


def _each_source(spec: MixtureSpec) -> list[MixtureSpec]:
    return [source_spec(spec, i) for i in range(len(spec.speakers))]


# condition -> for each of (anchor, positive, negative), the clips that stand for it; the outputs
# of a side's clips are pooled, so ``separated`` (each source alone) is the score a system would
# get behind a perfect separator
CONDITIONS = dict(
    zip(
        CONDITION_NAMES,
        [
            (_whole,) * 3,
            (_first_source,) * 3,
            (_whole, _first_source, _first_source),
            (_each_source,) * 3,
            (_whole,) * 3,
        ],
        strict=True,
    )
)


def cascade_embed(separate: Callable[[torch.Tensor], torch.Tensor], embed: EmbedFn) -> EmbedFn:
    """Separate, then embed every output: (B, samples) -> (B, N * n, E) for a separator of N
    outputs and a system of n embeddings per clip."""

    def run(wavs: torch.Tensor) -> torch.Tensor:
        outputs = separate(wavs)  # (B, N, samples)
        b, n = outputs.shape[:2]
        emb = embed(outputs.flatten(0, 1))  # (B * N, n', E)
        return emb.reshape(b, n * emb.shape[1], emb.shape[-1])

    return run


def embed_specs(
    embed: EmbedFn,
    specs: Sequence[MixtureSpec],
    manifest: Manifest,
    batch_size: int = 32,
    progress: Progress = silent,
    desc: str = "embedding",
    per_unit: int = 1,
    unit: str = "mixture",
) -> torch.Tensor:
    """Render each mixture and embed it: (len(specs), N, E). The bar counts ``unit``s of
    ``per_unit`` consecutive specs (a trial's clips), not batches."""
    index = manifest.index
    out = []
    with progress(total=len(specs) // per_unit, desc=desc, unit=unit, leave=False) as bar:
        for i in range(0, len(specs), batch_size):
            wavs = [mix(read_sources(s, index))[0] for s in specs[i : i + batch_size]]
            with torch.inference_mode():
                out.append(embed(torch.from_numpy(np.stack(wavs))))
            bar.update((i + len(wavs)) // per_unit - bar.n)
    return torch.cat(out)


def condition_specs(trials: Sequence[Trial], condition: str) -> list[MixtureSpec]:
    """The clips a condition scores: those of the anchor, positive, negative of each trial, in that
    order; every side of every trial has the same number of clips."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, got {condition!r}")
    return [
        clip
        for t in trials
        for spec, clips in zip((t.anchor, t.positive, t.negative), CONDITIONS[condition])
        for clip in clips(spec)
    ]


def trial_scores(
    embed: EmbedFn,
    trials: Sequence[Trial],
    manifest: Manifest,
    *,
    metric: str = "cosine",
    condition: str = "mixture",
    batch_size: int = 32,
    progress: Progress = silent,
    norm: ScoreNorm | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores (higher = same speaker) and labels: one target and one non-target per trial. With
    ``norm``, output pairs are compared against its cohort (``score_norm``)."""
    if norm is not None and metric != "cosine":
        raise InputError(f"--cohort: score normalisation takes cosine scores, not {metric} distances")
    sides = trial_embeddings(
        embed, trials, manifest, condition=condition, batch_size=batch_size, progress=progress
    )
    return side_scores(
        *sides, lambda a, b: pairwise_distance(a, b, metric) if norm is None else norm.pairwise(a, b)
    )


def trial_embeddings(
    embed: EmbedFn,
    trials: Sequence[Trial],
    manifest: Manifest,
    *,
    condition: str = "mixture",
    batch_size: int = 32,
    progress: Progress = silent,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(T, N, E) outputs of each trial's anchor, positive and negative side (a side's clips'
    outputs pooled): what every way of comparing them (``side_scores``) is computed from."""
    specs = condition_specs(trials, condition)
    emb = embed_specs(
        embed,
        specs,
        manifest,
        batch_size,
        progress,
        f"{condition} trials",
        len(specs) // len(trials),
        "trial",
    )
    emb = emb.reshape(3 * len(trials), -1, emb.shape[-1])  # one row per side
    return emb[0::3], emb[1::3], emb[2::3]


def side_scores(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, pairwise: Callable
) -> tuple[np.ndarray, np.ndarray]:
    """Scores (higher = same speaker) and labels, one target and one non-target per trial: minus
    the closest output pair's distance under ``pairwise`` ((B, N, E), (B, M, E) -> (B, N, M))."""
    d_p = closest_pair_distance(pairwise(anchor, positive))
    d_n = closest_pair_distance(pairwise(anchor, negative))
    scores = -torch.cat([d_p, d_n]).numpy().astype(np.float64)
    labels = np.concatenate([np.ones(len(anchor)), np.zeros(len(anchor))]).astype(int)
    return scores, labels


def summarize(scores: np.ndarray, labels: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    return {
        "eer": eer(scores, labels),
        "eer_ci": list(bootstrap_ci(scores, labels, eer, n_boot=n_boot, seed=seed)),
        "min_dcf": min_dcf(scores, labels, p_target=0.01),
        # the score (-distance) at the EER operating point: `mirnet verify --calibration` decides with it
        "eer_threshold": eer_threshold(scores, labels),
    }


def trial_speakers(trials: Sequence[Trial]) -> int:
    return len({s for t in trials for spec in (t.anchor, t.positive, t.negative) for s in spec.speakers})
