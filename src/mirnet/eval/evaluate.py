"""`mirnet eval`: one model, one corpus, one trial list -> EER with a bootstrap interval."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch.nn.functional as F

from ..api import inference_precision, load, load_separator
from ..atomic import atomic_path
from ..checkpoint import model_fingerprint
from ..corpus import open_corpus
from ..corpus.manifest import Manifest
from ..data.mixing import draw_mixture
from ..errors import CorpusError, InputError
from ..progress import Progress, bars
from . import TOP_K
from .peers import PEERS
from .protocol import EmbedFn, cascade_embed, embed_specs, summarize, trial_scores, trial_speakers
from .score_norm import Cohort, ScoreNorm
from .setting import MixtureSetting, TrialSetting
from .trials import load_trials, make_trials, save_trials


def evaluation_manifest(
    data: str | Path | Manifest, bundle: dict | None = None, heldout: bool = False, training: bool = False
) -> Manifest:
    """The corpus (or an already opened one) that trials are drawn from: with ``heldout``, only the
    utterances the model's bundle lists as held out of its training; with ``training``, all but
    those (a cohort that must not hold the held-out trials' utterances; a peer has none)."""
    manifest = data if isinstance(data, Manifest) else open_corpus(data)
    ids = set((bundle or {}).get("data", {}).get("heldout", []))
    if training:
        if heldout:
            raise InputError("--heldout and --training-only choose opposite utterances: give one")
        kept = Manifest([u for u in manifest if u.id not in ids], manifest.source)
        if not len(kept):
            raise CorpusError(
                f"{manifest.source}: the model held out every utterance; none is left to draw from"
            )
        return kept
    if heldout:
        if not ids:
            raise InputError("--heldout: the model records no held-out utterances")
        manifest = Manifest([u for u in manifest if u.id in ids], manifest.source)
        if not len(manifest):
            raise CorpusError(
                f"{manifest.source}: none of the model's held-out utterances are in this corpus"
            )
    return manifest


def load_system(exp: str | Path, precision: str = "auto") -> tuple[EmbedFn, dict | None]:
    """The embed function and training bundle of a mirnet experiment or model file, or of a peer
    named by its reserved name (``resemblyzer``), which has no bundle: every system is scored by
    the same code on the same trials. ``precision`` as ``mirnet.load``'s (a peer runs as it ships)."""
    if str(exp) in PEERS:
        return PEERS[str(exp)](), None
    model = load(exp, precision)
    return model.embed_batch, model.bundle


def system_precision(exp: str | Path, precision: str = "auto") -> str:
    """The precision ``load_system`` runs ``exp`` at on this machine: part of what a result measured."""
    return "fp32" if str(exp) in PEERS else inference_precision(precision)


def system_fingerprint(exp: str | Path) -> str:
    """What exactly was scored: the model file's SHA-1, or a peer's package version, so a cached
    result is reused only for the very same system."""
    if str(exp) in PEERS:
        from importlib.metadata import version

        return f"{exp}-{version(str(exp))}"
    return model_fingerprint(exp)


def cascade_fingerprint(system: str, separator: str | Path | None) -> str:
    """A cascade result is the system's and the separator's: reused only for both unchanged."""
    return system if separator is None else f"{system}+{system_fingerprint(separator)}"


def evaluate(
    exp: str | Path,
    setting: TrialSetting,
    *,
    metric: str = "cosine",
    condition: str = "mixture",
    trial_list: str | Path | None = None,
    scores_file: str | Path | None = None,
    progress: Progress = bars,
    system: str | None = None,
    separator: str | Path | None = None,
    precision: str = "auto",
    loaded: tuple[EmbedFn, dict | None] | None = None,
    corpus: Manifest | None = None,
    cohort: str | Path | None = None,
    top_k: int = TOP_K,
    score_norm: str = "asnorm",
) -> dict:
    """Score one system on the trials ``setting`` draws, or on ``trial_list`` if that file exists
    (its recorded setting then wins, but for the corpus and ``heldout``, which choose the
    utterances); the result records the setting it was scored on. ``scores_file`` keeps the trial
    scores (``.npz``) for DET curves and re-analysis without re-embedding. ``system`` is its
    fingerprint when the caller already has it (a report scores one model under many settings;
    hashing the file each time is waste). ``separator``: the separator the ``cascade`` condition
    puts in front of the system; ``precision``: the system's, as ``mirnet.load``'s. ``loaded``:
    what ``load_system(exp, precision)`` returned, and ``corpus`` ``setting.data`` opened, when the
    caller keeps them. ``cohort``: a cohort file of this system (``mirnet cohort``); output pairs
    are then compared by ``score_norm`` against it: AS-norm over each side's ``top_k`` closest
    cohort embeddings, or cosine after subtracting the cohort's mean (``eval.score_norm``)."""
    embed, bundle = loaded or load_system(exp, precision)
    if (condition == "cascade") != (separator is not None):
        raise InputError(
            "--condition cascade needs --separator SEP (a separator's experiment dir), and only it takes one"
        )
    system = system or system_fingerprint(exp)
    if cohort is not None and separator is not None:
        raise InputError(
            "--cohort: a cascade's cohort needs the pair as one model; join them with mirnet compose"
        )
    norm = None if cohort is None else ScoreNorm.from_file(score_norm, cohort, system, top_k)
    if separator is not None:
        embed = cascade_embed(load_separator(separator).separate_batch, embed)
    manifest = evaluation_manifest(setting.data if corpus is None else corpus, bundle, setting.heldout)
    if trial_list and Path(trial_list).exists():
        trial_set, meta, checksum = load_trials(trial_list)
        setting = TrialSetting.from_record(meta, data=setting.data, heldout=setting.heldout)
    else:
        trial_set = make_trials(manifest, setting.trials, setting.mixing(), setting.seed)
        meta = {**setting.record(), "fingerprint": manifest.fingerprint()}
        checksum = save_trials(trial_set, trial_list, meta) if trial_list else None
    start = time.time()
    scores, labels = trial_scores(
        embed,
        trial_set,
        manifest,
        metric=metric,
        condition=condition,
        progress=progress,
        norm=norm,
    )
    if scores_file:
        with atomic_path(scores_file) as tmp, tmp.open("wb") as f:  # a file: savez would add ".npz"
            np.savez(f, scores=scores, labels=labels)
    return {
        **summarize(scores, labels, seed=setting.seed),
        **replace(setting, trials=len(trial_set)).record(),
        "speakers": trial_speakers(trial_set),
        "metric": metric,
        "condition": condition,
        "model": str(exp),
        "system": cascade_fingerprint(system, separator),
        "separator": None if separator is None else str(separator),
        "precision": system_precision(exp, precision),
        "trial_list": str(trial_list) if trial_list else None,
        "trial_list_sha1": checksum,
        "score_norm": None if norm is None else norm.record(cohort),
        "seconds": round(time.time() - start, 1),
    }


def make_cohort(embed: EmbedFn, manifest: Manifest, setting: MixtureSetting) -> np.ndarray:
    """Every output of ``setting.n`` mixtures drawn from ``manifest`` (mixture i from rng
    (seed, i), as ``eval-separation`` draws them): (n * N, E) unit embeddings, a cohort."""
    cfg = setting.mixing()
    specs = [draw_mixture(manifest, np.random.default_rng([setting.seed, i]), cfg) for i in range(setting.n)]
    emb = embed_specs(embed, specs, manifest).float()
    return F.normalize(emb.reshape(-1, emb.shape[-1]), dim=-1).numpy()


def cohort_meta(setting: MixtureSetting, training: bool) -> dict:
    """How a cohort's mixtures were drawn, as its file records it (``write_cohort``): what a
    cached cohort is checked against before reuse."""
    return {**setting.record(), "n": setting.n, "training": training}


def write_cohort(
    exp: str | Path,
    setting: MixtureSetting,
    out: str | Path,
    precision: str = "auto",
    training: bool = False,
    loaded: tuple[EmbedFn, dict | None] | None = None,
    system: str | None = None,
) -> tuple[Path, int]:
    """``mirnet cohort``: every output of ``setting``'s mixtures embedded by the system ``exp``,
    written to ``out`` with the system's fingerprint (``score_norm``). ``training``: drawn from the
    utterances the model did not hold out (``evaluation_manifest``). ``loaded`` and ``system`` as
    ``evaluate``'s. Returns the path and how many embeddings it holds."""
    embed, bundle = loaded or load_system(exp, precision)
    manifest = evaluation_manifest(setting.data, bundle, setting.heldout, training)
    embeddings = make_cohort(embed, manifest, setting)
    meta = {
        **cohort_meta(setting, training),
        "fingerprint": manifest.fingerprint(),
        "precision": system_precision(exp, precision),  # recorded, not checked: see report.cache
    }
    return Cohort(embeddings, system or system_fingerprint(exp), meta).save(out), len(embeddings)
