"""Linear probes of speaker metadata on real synthesized voices: an embedding that carries pitch
names the gender of voices the probe never heard; one that carries nothing does no better than
guessing the commonest class."""

from __future__ import annotations

import numpy as np
import pytest
import pyworld
import torch

from mirnet.audio import SAMPLE_RATE
from mirnet.corpus import read_librispeech
from mirnet.eval.probes import probe_attributes


def pitch_embedding(wavs: torch.Tensor) -> torch.Tensor:
    """(B, samples) -> (B, 1, 2): the mean log F0 of the voiced frames, and a constant."""
    out = []
    for wav in wavs.double().numpy():
        f0, t = pyworld.dio(wav, SAMPLE_RATE)
        f0 = pyworld.stonemask(wav, f0, t, SAMPLE_RATE)
        out.append([np.log(f0[f0 > 0]).mean() - np.log(150.0), 1.0])
    return torch.tensor(out, dtype=torch.float32)[:, None]


@pytest.fixture(scope="module")
def corpora(corpus):
    return read_librispeech(corpus / "seen"), read_librispeech(corpus / "unseen")


def test_pitch_names_the_gender_of_unseen_voices(corpora):
    seen, unseen = corpora
    result = probe_attributes(pitch_embedding, seen, unseen, seconds=1.5)
    gender = result["gender"]
    assert gender["accuracy"] >= 0.9 and gender["test_speakers"] == len(unseen.speakers)
    # the unseen voices speak en and en-us, which seen voices speak too; every one is probed
    assert result["language"]["test_speakers"] == len(unseen.speakers)
    assert set(result) == {"gender", "language", "engine"}


def test_an_embedding_that_carries_nothing_guesses_the_commonest_class(corpora):
    seen, unseen = corpora
    constant = lambda wavs: torch.ones(len(wavs), 2, 4)  # noqa: E731 (two outputs, as MIRNet's)
    gender = probe_attributes(constant, seen, unseen, attributes=["gender"], seconds=1.0)["gender"]
    assert gender["accuracy"] == gender["majority_accuracy"] and gender["balanced_accuracy"] == 0.5


def test_probes_need_metadata_on_both_sides(corpora, tmp_path):
    seen, _ = corpora
    with pytest.raises(ValueError, match="no speaker metadata accent in both"):
        probe_attributes(pitch_embedding, seen, seen, attributes=["accent"])
