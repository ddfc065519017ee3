"""Corpora as manifests: readers for LibriSpeech-layout trees and the synthesized default corpus,
and ``mirnet prepare``'s real corpora (LibriSpeech, VoxCeleb1, WSJ0-2mix, Libri2Mix)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .librispeech import prepare_librispeech, read_librispeech
from .manifest import Manifest, Utterance
from .mixtures import Mixture, load_mixtures, prepare_libri2mix, prepare_wsj0_2mix
from .voxceleb import prepare_voxceleb

# mirnet prepare <name> ROOT --out OUT: each writes OUT (and, for voxceleb, trial lists beside it)
PREPARERS = {
    "librispeech": prepare_librispeech,
    "voxceleb": prepare_voxceleb,
    "wsj0-2mix": prepare_wsj0_2mix,
    "libri2mix": prepare_libri2mix,
}


def open_corpus(source: str | Path | Sequence[str | Path]) -> Manifest:
    """A manifest file (.jsonl) or a LibriSpeech-layout directory; a list of them reads as one
    corpus (LibriSpeech's three training subsets, or the default corpus plus extra voices)."""
    if isinstance(source, (list, tuple)):
        return Manifest.join([open_corpus(s) for s in source])
    source = Path(source)
    if source.suffix == ".jsonl":
        if not source.is_file():
            raise FileNotFoundError(f"{source}: no such manifest")
        return Manifest.load(source)
    return read_librispeech(source)


__all__ = [
    "Manifest",
    "Mixture",
    "PREPARERS",
    "Utterance",
    "load_mixtures",
    "open_corpus",
    "read_librispeech",
]
