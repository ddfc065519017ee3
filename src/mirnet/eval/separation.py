"""`mirnet eval-separation`: one separator, a fixed list of mixtures -> SDR, SI-SDR, PESQ and STOI
and their improvements over the mixture, with bootstrap intervals over the mixtures.

The mixtures are either drawn from a corpus, each a function of (seed, index) alone as the
verification trials are, so every separator scored with the same settings hears the very same
mixtures, or read from a list that ``mirnet prepare wsj0-2mix|libri2mix`` wrote, to score on the
mixtures the literature reports on."""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..api import load_separator
from ..atomic import atomic_path
from ..audio import SAMPLE_RATE, load_audio
from ..corpus import load_mixtures
from ..corpus.manifest import Manifest
from ..data.mixing import MixingConfig, draw_mixture, mix, read_enrollment, read_sources
from ..errors import CorpusError, InputError
from ..losses.pit import best_permutation
from ..losses.signal import pairwise_neg_sisdr
from ..progress import Progress, bars
from ..separation.metrics import METRICS, score_separation, summarize, unprocessed_scores
from .evaluate import evaluation_manifest
from .setting import MixtureSetting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """One mixture as scored: the waveforms at 16 kHz, and for an enrolled separator one
    enrollment crop per source."""

    id: str
    speakers: tuple[str, ...]
    mixture: np.ndarray  # (samples,)
    references: np.ndarray  # (N, samples)
    enrollment: np.ndarray | None = None  # (N, enroll samples)


def drawn_mixtures(
    manifest, n: int, cfg: MixingConfig, seed: int, enroll_seconds: float = 0.0
) -> Iterator[Item]:
    """Mixture i from rng (seed, i); its enrollment crops (``enroll_seconds`` > 0) from rng
    (seed, i, 1), so enrolling or not leaves the mixtures as they are."""
    index = manifest.index
    for i in range(n):
        spec = draw_mixture(manifest, np.random.default_rng([seed, i]), cfg)
        mixture, sources = mix(read_sources(spec, index))
        enrollment = (
            read_enrollment(spec, manifest, np.random.default_rng([seed, i, 1]), enroll_seconds)
            if enroll_seconds
            else None
        )
        yield Item(str(i), spec.speakers, mixture, sources, enrollment)


def listed_mixtures(mixtures, min_seconds: float) -> Iterator[Item]:
    """The mixture file and its source files, each resampled to 16 kHz."""
    for m in mixtures:
        mixture = load_audio(m.path, min_seconds=min_seconds)
        sources = [load_audio(p) for p in m.sources]
        for path, wav in zip(m.sources, sources):
            if len(wav) != len(mixture):
                raise CorpusError(
                    f"{path}: {len(wav)} samples at 16 kHz, but its mixture {m.path} has {len(mixture)}"
                )
        yield Item(m.id, m.speakers, mixture, np.stack(sources))


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Runs of up to ``size`` consecutive items of one length, to separate as one batch."""
    batch: list[Item] = []
    for item in items:
        if batch and (len(batch) == size or len(item.mixture) != len(batch[0].mixture)):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def separate(sep, batch: list[Item]) -> torch.Tensor:
    """(B, N, samples); a mixture longer than one chunk in overlapping chunks, as ``mirnet
    separate`` does, so the scores are those of what a user gets."""
    wavs = torch.from_numpy(np.stack([item.mixture for item in batch]))
    emb = None
    if sep.mode == "enrolled":
        emb = torch.stack([sep.enrolled_embeddings(list(item.enrollment)) for item in batch])
    if wavs.shape[-1] <= sep.chunk:
        return sep.separate_batch(wavs, emb)
    return torch.stack(
        [sep.separate_long(wav, None if emb is None else emb[b]) for b, wav in enumerate(wavs)]
    )


def match(estimates: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """(N, samples) estimates put in the references' order by SI-SDR, through the one
    permutation helper."""
    perm = best_permutation(pairwise_neg_sisdr(estimates[None], references[None]))[
        0
    ]  # output k -> reference perm[k]
    return estimates[torch.argsort(perm)]


def _unprocessed(kept: dict[str, dict], item: Item, metrics: tuple[str, ...]) -> dict:
    """The mixture's own scores from ``kept``, computed and kept the first time its audio is seen."""
    key = hashlib.sha1(
        item.mixture.tobytes() + item.references.tobytes() + " ".join(metrics).encode()
    ).hexdigest()
    if key not in kept:
        kept[key] = unprocessed_scores(item.references, item.mixture, metrics)
    return kept[key]


def _sir_db(references: np.ndarray) -> float | None:
    """Source 1's level over the other sources', measured on the references as scored."""
    if len(references) < 2:
        return None
    ref = references.astype(np.float64)
    return float(10 * np.log10(np.sum(ref[0] ** 2) / max(np.sum(ref[1:].sum(0) ** 2), 1e-20)))


def _write_csv(path: str | Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def evaluate_separation(
    exp: str | Path,
    setting: MixtureSetting | None = None,
    mixtures: str | Path | None = None,
    *,
    seed: int = 0,
    corpus: Manifest | None = None,
    enroll_seconds: float = 3.0,
    csv_file: str | Path | None = None,
    pesq_stoi: bool = True,
    batch_size: int = 8,
    conditioner: str | Path | None = None,
    progress: Progress = bars,
    unprocessed: dict[str, dict] | None = None,
) -> dict:
    """Score one separator on the mixtures ``setting`` draws, or on every mixture of the list
    ``mixtures``. ``seed``: the bootstrap's for a list (drawn mixtures use their setting's);
    ``corpus``: ``setting.data`` already opened, when the caller keeps it. ``unprocessed``: a dict
    the caller keeps while it scores several separators, holding each mixture's own scores (what
    the improvements are over) under a digest of its audio, so a mixture heard again is not
    scored again.

    Outputs are matched to the references by SI-SDR, except an enrolled separator's: output k
    is meant to be enrollment k's speaker, and matching would hide that it picked the other one.
    Each metric is averaged over a mixture's sources; intervals are over mixtures. ``csv_file``
    keeps one row per mixture; ``pesq_stoi=False`` skips the two slow metrics. ``conditioner``
    replaces a conditioned separator's embedder (the cost of a mismatched embedding space)."""
    if (setting is None) == (mixtures is None):
        raise InputError(
            "give a corpus to draw mixtures from (--data) or a mixture list (--mixtures), not both"
        )
    sep = load_separator(exp, conditioner=conditioner)
    outputs, bootstrap_seed = sep.n_outputs, seed if setting is None else setting.seed
    if mixtures is not None:
        if sep.mode == "enrolled":
            raise InputError(
                f"{mixtures}: {exp} separates enrolled speakers, and a mixture list names no "
                "enrollment recordings; score it on mixtures drawn from a corpus (--data)"
            )
        if not Path(mixtures).is_file():
            raise FileNotFoundError(f"{mixtures}: no such mixture list")
        listed = load_mixtures(mixtures)
        if not listed:
            raise CorpusError(f"{mixtures}: no mixtures")
        for m in listed:
            if len(m.sources) != outputs:
                raise InputError(
                    f"{mixtures}: mixture {m.id} has {len(m.sources)} source(s), but {exp} gives "
                    f"{outputs} output(s)"
                )
        items, total = listed_mixtures(listed, sep.shortest_seconds), len(listed)
        drawn = {"mixtures": str(mixtures)}
    else:
        n_speakers, crop_seconds = setting.n_speakers, setting.crop_seconds
        if n_speakers < 2:
            raise InputError(
                f"--speakers {n_speakers}: a mixture of one speaker is its own reference; "
                "separation is scored on 2 or more"
            )
        if outputs is not None and outputs != n_speakers:
            raise InputError(
                f"{exp}: this separator gives {outputs} output(s) per mixture; --speakers {n_speakers} "
                f"needs one trained for {n_speakers}"
            )
        if crop_seconds < sep.shortest_seconds:
            raise InputError(
                f"--crop {crop_seconds:g}: shorter than the {sep.shortest_seconds:.3f} s {exp} takes"
            )
        manifest = evaluation_manifest(
            setting.data if corpus is None else corpus, sep.bundle, setting.heldout
        )
        enroll = enroll_seconds if sep.mode == "enrolled" else 0.0
        single = [s for s, utts in manifest.by_speaker.items() if len(utts) < 2]
        if enroll and single:
            log.warning(
                "%s: %d speaker(s) have one utterance (e.g. %s): they are enrolled on another crop of the "
                "utterance they speak in the mixture",
                setting.data,
                len(single),
                single[0],
            )
        items = drawn_mixtures(manifest, setting.n, setting.mixing(), setting.seed, enroll)
        total = setting.n
        drawn = {
            **setting.record(),
            "fingerprint": manifest.fingerprint(),
            **({"enroll_seconds": enroll} if enroll else {}),
        }

    metrics = METRICS if pesq_stoi else ("sdr", "si_sdr")
    start, rows = time.time(), []
    bar = progress(total=total, desc="separating", unit="mixture", leave=False)
    for batch in _batches(items, batch_size):
        for item, estimates in zip(batch, separate(sep, batch)):
            estimates = (
                estimates if sep.mode == "enrolled" else match(estimates, torch.from_numpy(item.references))
            )
            scores = score_separation(
                estimates.numpy(),
                item.references,
                item.mixture,
                metrics,
                None if unprocessed is None else _unprocessed(unprocessed, item, metrics),
            )
            rows.append(
                {
                    "mixture": item.id,
                    "speakers": " ".join(item.speakers),
                    "sir_db": _sir_db(item.references),
                    "seconds": round(len(item.mixture) / SAMPLE_RATE, 3),
                    **{k: float(v.mean()) for k, v in scores.items()},
                }
            )
        bar.update(len(batch))
    bar.close()
    if csv_file:
        _write_csv(csv_file, rows)
    names = [k for m in metrics for k in (m, m + "i")]
    return {
        "separator": str(exp),
        "mode": sep.mode,
        "n": len(rows),
        **drawn,
        **({"conditioner": str(conditioner)} if conditioner is not None else {}),
        "metrics": {k: summarize(np.array([r[k] for r in rows]), seed=bootstrap_seed) for k in names},
        "csv": str(csv_file) if csv_file else None,
        "seconds": round(time.time() - start, 1),
    }
