"""Trial lists for mixture speaker verification (paper section 4.1.2).

A trial is three mixtures: anchor A+B, positive A'+C and negative C'+D, where A' and C' are
other utterances of A and C. The anchor/positive pair shares exactly one speaker, the
anchor/negative pair none. For N-speaker mixtures each side is filled up with further
distinct speakers. Trials are plain data (MixtureSpecs) written to JSON, so the same
mixtures can be re-rendered and scored by any system, anywhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..corpus.manifest import Manifest
from ..data.mixing import MixingConfig, MixtureSpec, draw_mixture
from ..errors import CorpusError

TRIALS_FORMAT = "mirnet-trials-1"


@dataclass(frozen=True)
class Trial:
    anchor: MixtureSpec
    positive: MixtureSpec
    negative: MixtureSpec


def _other_utterance_mixture(manifest, rng, cfg, speakers, avoid_utt: str) -> MixtureSpec:
    """A mixture of ``speakers`` whose first source is not utterance ``avoid_utt``."""
    for _ in range(100):
        spec = draw_mixture(manifest, rng, cfg, speakers=speakers)
        if spec.utterances[0] != avoid_utt:
            return spec
    raise CorpusError(f"speaker {speakers[0]} needs at least two utterances for the trial protocol")


def make_trials(manifest: Manifest, n_trials: int, cfg: MixingConfig, seed: int = 0) -> list[Trial]:
    n = cfg.n_speakers
    manifest = manifest.filter(min_utterances=2)
    names = manifest.speakers
    needed = 3 * n - 2 if n > 1 else 2  # anchor n, positive n-2 new + C, negative n-1 new
    if len(names) < needed:
        raise CorpusError(
            f"{manifest.source}: {len(names)} speakers with two or more utterances; "
            f"{n}-speaker trials need at least {needed}"
        )
    trials = []
    for t in range(n_trials):
        rng = np.random.default_rng([seed, t])
        spk = [names[i] for i in rng.choice(len(names), size=needed, replace=False)]
        a, c = spk[0], spk[n] if n > 1 else spk[1]
        anchor_spk = spk[:n]
        pos_spk = [a] + ([c] + spk[n + 1 : 2 * n - 1] if n > 1 else [])
        neg_spk = [c] + spk[2 * n - 1 :] if n > 1 else [c]
        anchor = draw_mixture(manifest, rng, cfg, speakers=anchor_spk)
        positive = _other_utterance_mixture(manifest, rng, cfg, pos_spk, anchor.utterances[0])
        c_in_pos = positive.utterances[1] if n > 1 else ""
        negative = _other_utterance_mixture(manifest, rng, cfg, neg_spk, c_in_pos)
        trials.append(Trial(anchor, positive, negative))
    return trials


def trial_list_sha1(path: str | Path) -> str:
    """The checksum reports print and caches compare: of the file's bytes, as written."""
    return _sha1(Path(path).read_text())


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def save_trials(trials: list[Trial], path: str | Path, meta: dict | None = None) -> str:
    """Write the list; returns its SHA-1 so reports can show which trials were scored."""
    body = {
        "format": TRIALS_FORMAT,
        "meta": meta or {},
        "trials": [{k: getattr(t, k).to_dict() for k in ("anchor", "positive", "negative")} for t in trials],
    }
    text = json.dumps(body, indent=None, separators=(",", ":"))
    write_text(path, text)
    return _sha1(text)


def load_trials(path: str | Path) -> tuple[list[Trial], dict, str]:
    path = Path(path)
    text = path.read_text()
    try:
        body = json.loads(text)
        if body.get("format") != TRIALS_FORMAT:
            raise ValueError(f"format {body.get('format')!r}")
        trials = [
            Trial(*(MixtureSpec.from_dict(t[k]) for k in ("anchor", "positive", "negative")))
            for t in body["trials"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorpusError(f"{path}: not a mirnet trial list ({exc})") from None
    return trials, body.get("meta", {}), _sha1(text)
