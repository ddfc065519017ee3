"""New voices by WORLD: on real synthesized speech, the pitch and the formants move by the
factors asked, and the corpus tool writes a readable, resumable tree of copies."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import pyworld
import soundfile as sf

from mirnet.corpus import read_librispeech
from mirnet.corpus.manifest import Manifest
from mirnet.corpus.voice_transform import (
    FORMANT_RANGE,
    PITCH_RANGE,
    draw_copies,
    transform_corpus,
    transform_voice,
)
from mirnet.errors import InputError

SR = 16000


@pytest.fixture(scope="module")
def utterance(corpus):
    path = sorted((corpus / "seen").rglob("*.flac"))[0]
    wav, sr = sf.read(path, dtype="float32")
    assert sr == SR
    return wav


def _f0(wav: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The signal in float64, WORLD's F0 per frame (DIO + StoneMask) and the frame times."""
    x = wav.astype(np.float64)
    f0, t = pyworld.dio(x, SR)
    return x, pyworld.stonemask(x, f0, t, SR), t


def _median_f0(wav: np.ndarray) -> float:
    f0 = _f0(wav)[1]
    return float(np.median(f0[f0 > 0]))


def _log_envelope(wav: np.ndarray) -> np.ndarray:
    """WORLD's spectral envelope (CheapTrick), in log power, averaged over voiced frames."""
    x, f0, t = _f0(wav)
    return np.log(pyworld.cheaptrick(x, f0, t, SR)[f0 > 0].mean(axis=0))


def _formant_factor(before: np.ndarray, after: np.ndarray) -> float:
    """The frequency stretch that best maps ``before``'s envelope onto ``after``'s, below 5 kHz."""
    a, b = _log_envelope(before), _log_envelope(after)
    bins = np.arange(len(a))
    below = bins * (SR / 2) / (len(a) - 1) < 5000
    factors = np.linspace(0.75, 1.3, 111)
    errors = [np.mean((np.interp(bins / f, bins, a) - b)[below] ** 2) for f in factors]
    return float(factors[int(np.argmin(errors))])


@pytest.mark.parametrize("pitch", [0.75, 1.4])
def test_pitch_moves_by_the_factor_and_the_envelope_stays(utterance, pitch):
    out = transform_voice(utterance, SR, pitch=pitch, formant=1.0)
    assert out.dtype == np.float32 and out.shape == utterance.shape
    assert np.abs(out).max() == pytest.approx(np.abs(utterance).max(), rel=1e-4)
    assert _median_f0(out) / _median_f0(utterance) == pytest.approx(pitch, rel=0.05)
    assert _formant_factor(utterance, out) == pytest.approx(1.0, abs=0.04)


@pytest.mark.parametrize("formant", [0.86, 1.16])
def test_formants_move_and_the_pitch_stays(utterance, formant):
    out = transform_voice(utterance, SR, pitch=1.0, formant=formant)
    assert _formant_factor(utterance, out) == pytest.approx(formant, abs=0.04)
    assert _median_f0(out) / _median_f0(utterance) == pytest.approx(1.0, rel=0.03)


def test_copies_are_a_function_of_seed_and_speaker_alone():
    a = draw_copies("1018", 3, seed=0)
    assert a == draw_copies("1018", 3, seed=0)
    assert draw_copies("1018", 2, seed=0) == a[:2]  # more copies keep the first ones
    assert a != draw_copies("1019", 3, seed=0) and a != draw_copies("1018", 3, seed=1)
    assert [c.speaker for c in a] == ["1018w1", "1018w2", "1018w3"]
    for c in draw_copies("7", 200, seed=0):
        assert PITCH_RANGE[0] <= c.pitch <= PITCH_RANGE[1]
        assert FORMANT_RANGE[0] <= c.formant <= FORMANT_RANGE[1]
        assert abs(math.log(c.pitch)) >= math.log(1.12) or abs(math.log(c.formant)) >= math.log(1.05)


def test_transform_corpus_writes_a_resumable_tree_of_new_voices(corpus, tmp_path):
    src = tmp_path / "src"
    for speaker in sorted((corpus / "seen").iterdir())[:2]:
        shutil.copytree(speaker, src / speaker.name)
    source = read_librispeech(src)
    out = tmp_path / "out"
    made = transform_corpus(src, out, copies=2, seed=0, jobs=1)

    assert sorted(made.speakers) == sorted(f"{s}w{k}" for s in source.speakers for k in (1, 2))
    assert len(made) == 2 * len(source)
    first = source.utterances[0]
    copy = next(u for u in made if u.speaker == f"{first.speaker}w1" and u.id.endswith(first.id[-4:]))
    assert copy.num_samples == first.num_samples
    trans = next(out.rglob(f"{first.speaker}w1-*.trans.txt")).read_text()
    original = next(src.rglob(f"{first.speaker}-*.trans.txt")).read_text()
    assert trans == original.replace(f"{first.speaker}-", f"{first.speaker}w1-")
    assert Manifest.load(out / "manifest.jsonl").utterances == made.utterances
    assert copy.meta == {"derived_from": first.id}
    record = json.loads((out / "transform.json").read_text())
    assert record["complete"] and len(record["voices"]) == 4

    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.flac")}
    victim = sorted(mtimes)[0]
    victim.unlink()  # an interrupted run: one copy missing
    transform_corpus(src, out, copies=2, seed=0, jobs=1)
    assert victim.is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p != victim)

    mtimes[victim] = victim.stat().st_mtime_ns
    more = transform_corpus(src, out, copies=3, seed=0, jobs=1)  # copy 3 added, 1 and 2 kept
    assert len(more) == 3 * len(source) and all(p.stat().st_mtime_ns == t for p, t in mtimes.items())
    assert json.loads((out / "transform.json").read_text())["copies"] == 3

    with pytest.raises(InputError, match=r"out: made with .*'seed': 0.*use another folder"):
        transform_corpus(src, out, copies=3, seed=1, jobs=1)
