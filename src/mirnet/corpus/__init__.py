"""Corpora as manifests: readers for LibriSpeech-layout trees and the synthesized default corpus."""
from __future__ import annotations

from pathlib import Path

from .librispeech import read_librispeech
from .manifest import Manifest, Utterance


def open_corpus(source: str | Path) -> Manifest:
    """A manifest file (.jsonl) or a LibriSpeech-layout directory."""
    source = Path(source)
    if source.suffix == ".jsonl":
        if not source.is_file():
            raise FileNotFoundError(f"{source}: no such manifest")
        return Manifest.load(source)
    return read_librispeech(source)


__all__ = ["Manifest", "Utterance", "open_corpus", "read_librispeech"]
