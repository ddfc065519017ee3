"""Linear probes on frozen embeddings: what a representation keeps of its speakers' metadata.

A good speaker embedding keeps gender, which is part of a voice, and drops the recording source
(the engine), which is not. MASR's paper judges representations by such downstream tasks. Here a
logistic regression learns each attribute from clean utterances of the training speakers and is
scored on the held-out speakers, so the probe measures what generalises to new voices, not what
it memorised of the old ones. An utterance is embedded from its first ``seconds``; a system with
N outputs per clip is represented by the mean of its normalised outputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from ..audio import SAMPLE_RATE, load_audio
from ..corpus.manifest import Manifest
from ..data.mixing import speaker_attributes
from ..progress import Progress, silent

ATTRIBUTES = ("gender", "language", "engine")


def embed_utterances(
    embed: Callable[[torch.Tensor], torch.Tensor],
    manifest: Manifest,
    seconds: float = 3.0,
    progress: Progress = silent,
) -> np.ndarray:
    """(utterances, E): each utterance's first ``seconds``, one clip at a time (lengths differ)."""
    frames = round(seconds * SAMPLE_RATE)
    out = []
    for utt in progress(manifest, desc="probe embeddings", leave=False):
        wav = load_audio(utt.path, frames=round(frames * utt.sample_rate / SAMPLE_RATE))
        with torch.inference_mode():
            emb = F.normalize(embed(torch.from_numpy(wav)[None])[0].float(), dim=-1).mean(0)
        out.append(F.normalize(emb, dim=0).numpy())
    return np.stack(out)


def probe(
    train: tuple[np.ndarray, list[str]], test: tuple[np.ndarray, list[str]], speakers: list[str]
) -> dict:
    """One attribute: fit on ``train`` (embeddings, labels), score on the ``test`` items whose
    label the probe has seen (a language no training voice speaks cannot be named)."""
    x, y = train
    classes = set(y)
    known = [i for i, label in enumerate(test[1]) if label in classes]
    tx, ty = test[0][known], [test[1][i] for i in known]
    clf = LogisticRegression(max_iter=2000).fit(x, y)
    pred = clf.predict(tx)
    with warnings.catch_warnings():  # a predicted class no test voice has is just a wrong answer
        warnings.simplefilter("ignore", UserWarning)
        balanced = float(balanced_accuracy_score(ty, pred))
    majority = max(classes, key=list(y).count)
    return {
        "accuracy": float(np.mean(pred == np.array(ty))),
        "balanced_accuracy": balanced,
        "majority_accuracy": float(np.mean(np.array(ty) == majority)),  # always guessing the commonest
        "classes": len(classes),
        "test_utterances": len(known),
        "test_speakers": len({speakers[i] for i in known}),
    }


def probe_attributes(
    embed: Callable[[torch.Tensor], torch.Tensor],
    train: Manifest,
    test: Manifest,
    attributes: Sequence[str] = ATTRIBUTES,
    seconds: float = 3.0,
    progress: Progress = silent,
) -> dict[str, dict]:
    """Each attribute both corpora know -> ``probe``'s figures."""
    tables = speaker_attributes(train), speaker_attributes(test)
    wanted = [a for a in attributes if a in tables[0] and a in tables[1]]
    if not wanted:
        raise ValueError(
            f"no speaker metadata {', '.join(attributes)} in both {train.source} and {test.source} "
            "(speakers.tsv or SPEAKERS.TXT beside the corpus)"
        )
    emb = embed_utterances(embed, train, seconds, progress), embed_utterances(embed, test, seconds, progress)
    results = {}
    for name in wanted:
        (x, y, _), (tx, ty, speakers) = (_known(m, e, name) for m, e in zip((train, test), emb))
        results[name] = probe((x, y), (tx, ty), speakers)
    return results


def _known(manifest: Manifest, emb: np.ndarray, name: str) -> tuple[np.ndarray, list[str], list[str]]:
    """The embeddings, labels and speakers of the utterances whose ``name`` is known: an unknown
    one is not probed."""
    rows = [i for i, u in enumerate(manifest) if name in u.meta]
    utts = [manifest.utterances[i] for i in rows]
    return emb[rows], [u.meta[name] for u in utts], [u.speaker for u in utts]
