"""The report's results, each cached under ``OUT/evals`` with what it measured (the system's
fingerprint, the trial list's or the mixtures' settings, the metric and precision), and reused
only for the very same system on the very same trials or mixtures: an interrupted report resumes
where it stopped, and adding a system re-scores nothing else."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...atomic import write_text
from ...checkpoint import resolve, save_atomic
from ...corpus import open_corpus
from ...corpus.manifest import Manifest
from ...errors import InputError
from ...progress import Progress, bars
from .. import COHORT_MIXTURES
from ..evaluate import (
    cascade_fingerprint,
    cohort_meta,
    evaluate,
    load_system,
    system_fingerprint,
    system_precision,
    write_cohort,
)
from ..metrics import det_points
from ..score_norm import SHIPPED_COHORT, Cohort
from ..separation import evaluate_separation
from ..setting import MixtureSetting, TrialSetting
from ..trials import trial_list_sha1
from .systems import System

if TYPE_CHECKING:
    from .plan import ReportPlan

TAG = "recorded"  # before the recorded split's file names: its folder is usually called as the report's data
ENROLL_SECONDS = 3.0  # an enrolled separator's enrollment crops, as `mirnet eval-separation` takes them
EMBEDDING_MEMO_BYTES = 512 * 2**20  # the embeddings a report keeps in memory (``_EmbeddingMemo``)


class _EmbeddingMemo:
    """What each system's embed function gave for each batch of audio it was handed, by a digest
    of the batch, up to ``budget`` bytes (the least recently used dropped first): a raw and a
    normalised result on the same trial list, scored in one report, embed each batch once. The
    same trials and condition hand the embedder the same batches in the same order, so a result
    is what embedding them again gives."""

    def __init__(self, budget: int = EMBEDDING_MEMO_BYTES):
        self.budget, self.used = budget, 0
        self.kept: OrderedDict[tuple, torch.Tensor] = OrderedDict()

    def wrap(self, owner: str, embed: Callable | None) -> Callable | None:
        if embed is None:
            return None

        def remembered(wavs: torch.Tensor):
            if wavs.dtype not in (torch.float32, torch.float64):
                return embed(wavs)
            audio = wavs.detach().cpu().contiguous().numpy()
            key = (owner, tuple(wavs.shape), str(wavs.dtype), hashlib.sha1(audio.tobytes()).hexdigest())
            if key in self.kept:
                self.kept.move_to_end(key)
                return self.kept[key]
            out = embed(wavs)
            if isinstance(out, torch.Tensor):
                self._keep(key, out.detach().clone())  # a copy: the caller's may share a buffer
            return out

        return remembered

    def _keep(self, key: tuple, out: torch.Tensor) -> None:
        self.kept[key] = out
        self.used += out.element_size() * out.nelement()
        while self.used > self.budget and self.kept:
            _, dropped = self.kept.popitem(last=False)
            self.used -= dropped.element_size() * dropped.nelement()


class _Opened:
    """What a report reuses across its settings: each system's fingerprint and each corpus,
    opened once (a report scores every system and every corpus under many settings). ``tags``:
    corpus -> a word put before the name of each of its settings' files, for a corpus whose
    folder is called as another's (``data/recorded/unseen`` beside ``data/corpus/unseen``)."""

    def __init__(self, tags: dict[str, str] | None = None):
        self._fingerprints: dict[str, str] = {}
        self._corpora: dict[str, Manifest] = {}
        self.tags = dict(tags or {})

    def name(self, setting: TrialSetting | MixtureSetting) -> str:
        """The name of a setting's files (trial list, results): its own, after its corpus's tag."""
        tag = self.tags.get(setting.data)
        return setting.name if tag is None else f"{tag}-{setting.name}"

    def fingerprint(self, system: System) -> str:
        if system.path not in self._fingerprints:
            self._fingerprints[system.path] = system_fingerprint(system.path)
        return self._fingerprints[system.path]

    def corpus(self, data: str) -> Manifest:
        if data not in self._corpora:
            self._corpora[data] = open_corpus(data)
        return self._corpora[data]


class Runner(_Opened):
    """Scores (system, setting, condition) as ``plan`` says (its ``metric``, ``separator`` of the
    cascade, ``precision`` and ``progress``), or returns the cached result of the very same system
    on the very same trial list. With the plan's ``score_norm``, every score is normalised against
    the system's cohort: ``COHORT_MIXTURES`` mixtures of ``seen``'s utterances that the system did
    not hold out, drawn with the plan's ``seed`` and kept in ``OUT/cohorts``. ``precision``: every
    mirnet system's, as ``mirnet.load``'s (a peer runs as it ships); a cached result is reused only
    at the same precision, a cohort at any. The ``recorded`` split's files carry ``TAG``
    (``_Opened``). Each system's embeddings are remembered for the report (``_EmbeddingMemo``):
    its raw and normalised results on the same trials embed them once."""

    def __init__(self, plan: ReportPlan):
        super().__init__(None if plan.recorded is None else {plan.recorded: TAG})
        self.out, self.metric, self.progress = plan.out, plan.metric, plan.progress
        self.separator, self.score_norm = plan.separator, plan.score_norm
        self.top_k, self.precision = plan.top_k, plan.precision
        self.cohort_setting = (
            None if plan.score_norm is None else MixtureSetting(plan.seen, n=COHORT_MIXTURES, seed=plan.seed)
        )
        self._loaded: dict[str, tuple] = {}  # path -> load_system's: each system loaded once
        self._memo = _EmbeddingMemo()
        self._cohorts: dict[str, Path] = {}  # label -> its cohort file, checked or drawn once

    def _load(self, system: System) -> tuple:
        if system.path not in self._loaded:
            embed, bundle = load_system(system.path, self.precision)
            self._loaded[system.path] = (self._memo.wrap(system.path, embed), bundle)
        return self._loaded[system.path]

    def cohort(self, system: System) -> Path | None:
        """The system's cohort file (None without ``score_norm``), drawn unless the file there
        was drawn by this very system under this very setting."""
        if self.score_norm is None:
            return None
        if system.label not in self._cohorts:
            self._cohorts[system.label] = self._checked_cohort(system)
        return self._cohorts[system.label]

    def _checked_cohort(self, system: System) -> Path:
        """OUT/cohorts/LABEL.npz: kept if this system drew it under this setting, else a copy of
        the cohort shipped beside the system's model file (``SHIPPED_COHORT``) if that one was,
        else drawn."""
        path = self.out / "cohorts" / f"{system.label}.npz"
        shipped = None if system.is_peer else resolve(system.path).parent / SHIPPED_COHORT
        for candidate in (path, shipped):
            if candidate is not None and self._drawn_here(candidate, system):
                if candidate != path:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    save_atomic(candidate, path)
                return path
        write_cohort(
            system.path,
            self.cohort_setting,
            path,
            precision=self.precision,
            training=True,
            loaded=self._load(system),
            system=self.fingerprint(system),
        )
        return path

    def _drawn_here(self, path: Path, system: System) -> bool:
        """Whether the cohort at ``path`` was drawn by ``system`` under this runner's setting."""
        if not path.exists():
            return False
        wanted = cohort_meta(self.cohort_setting, training=True)
        try:
            kept = Cohort.load(path, self.fingerprint(system))
        except InputError:
            return False  # another system's, or not a cohort
        return {k: kept.meta.get(k) for k in wanted} == wanted

    def norm_record(self, system: System) -> dict | None:
        """What a result normalised as this runner normalises records of it (``ScoreNorm.record``),
        but the cohort's size."""
        path = self.cohort(system)
        return None if path is None else {"method": self.score_norm, "top_k": self.top_k, "cohort": str(path)}

    def trial_list(self, setting: TrialSetting) -> Path:
        return self.out / "trials" / f"{self.name(setting)}.json"

    def _paths(self, label: str, setting_name: str, condition: str, raw: bool = False) -> tuple[Path, Path]:
        """Where a result (JSON) and its trial scores (``.npz``) live; ``raw``: a normalising
        runner's unnormalised result, beside the normalised one. Suffixes are appended, not
        swapped in with ``with_suffix``: a setting name holds dots (``overlap0.25``)."""
        stem = f"{setting_name}_{condition}" + ("_raw" if raw and self.score_norm is not None else "")
        return self.out / "evals" / label / f"{stem}.json", self.out / "evals" / label / f"{stem}.npz"

    def result(self, system: System, setting: TrialSetting, condition: str, raw: bool = False) -> dict:
        """``raw``: the scores unnormalised even where the runner normalises (the same result
        without ``score_norm``)."""
        (json_path, npz_path), trials = (
            self._paths(system.label, self.name(setting), condition, raw),
            self.trial_list(setting),
        )
        cohort = None if raw else self.cohort(system)
        separator = self.separator if condition == "cascade" else None
        if json_path.exists() and npz_path.exists() and trials.exists():
            try:
                cached = json.loads(json_path.read_text())
            except json.JSONDecodeError:
                cached = {}
            found = ("system", "trial_list_sha1", "metric")
            norm = cached.get("score_norm")
            if (
                *(cached.get(k) for k in found),
                cached.get("precision", "fp32"),
                norm and {k: norm[k] for k in ("method", "top_k", "cohort")},
            ) == (
                cascade_fingerprint(self.fingerprint(system), separator),
                trial_list_sha1(trials),
                self.metric,
                system_precision(system.path, self.precision),  # a bf16 result is not fp32's
                None if raw else self.norm_record(system),
            ):
                return cached
        r = evaluate(
            system.path,
            setting,
            loaded=self._load(system),
            corpus=self.corpus(setting.data),
            metric=self.metric,
            condition=condition,
            trial_list=trials,
            scores_file=npz_path,
            progress=self.progress,
            system=self.fingerprint(system),
            separator=separator,
            precision=self.precision,
            cohort=cohort,
            top_k=self.top_k,
            score_norm=self.score_norm or "asnorm",
        )
        r["label"] = system.label
        write_text(json_path, json.dumps(r, indent=1) + "\n")
        return r

    def det(self, r: dict) -> tuple[np.ndarray, np.ndarray]:
        """DET points of a result ``result`` returned, from its saved scores."""
        paths = self._paths(r["label"], Path(r["trial_list"]).stem, r["condition"], not r.get("score_norm"))
        with np.load(paths[1]) as z:
            return det_points(z["scores"], z["labels"])


class SeparationRunner(_Opened):
    """Scores (separator, setting), or returns the cached result of the very same separator file
    on the very same mixtures: same settings, and a corpus of the same utterances.
    ``pesq_stoi=False`` skips the two slow metrics; ``tags``: as ``_Opened``'s."""

    def __init__(
        self, out: Path, pesq_stoi: bool = True, progress: Progress = bars, tags: dict[str, str] | None = None
    ):
        super().__init__(tags)
        self.out, self.pesq_stoi, self.progress = out, pesq_stoi, progress
        self._unprocessed: dict[str, dict] = {}  # each mixture's own scores, shared by the separators

    def paths(self, label: str, setting: MixtureSetting) -> tuple[Path, Path]:
        """Where a result (JSON) and its per-mixture scores (CSV) live."""
        folder = self.out / "evals" / "separation" / label
        return folder / f"{self.name(setting)}.json", folder / f"{self.name(setting)}.csv"

    def result(self, system: System, setting: MixtureSetting) -> dict:
        json_path, csv_path = self.paths(system.label, setting)
        corpus = self.corpus(setting.data)
        key = {
            "system": self.fingerprint(system),
            "settings": {**asdict(setting), "pesq_stoi": self.pesq_stoi, "corpus": corpus.fingerprint()},
        }
        if json_path.exists() and csv_path.exists():
            try:
                cached = json.loads(json_path.read_text())
            except json.JSONDecodeError:
                cached = {}
            if {k: cached.get(k) for k in key} == key:
                return cached
        r = evaluate_separation(
            system.path,
            setting,
            corpus=corpus,
            enroll_seconds=ENROLL_SECONDS,
            csv_file=csv_path,
            pesq_stoi=self.pesq_stoi,
            progress=self.progress,
            unprocessed=self._unprocessed,
        )
        r.update(label=system.label, **key)
        write_text(json_path, json.dumps(r, indent=1) + "\n")
        return r
