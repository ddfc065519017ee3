"""The decoded-audio cache: crops and whole training mixtures bit-identical to those read from the
files, and a corpus that changed after caching refused in one line."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
import soundfile as sf

from mirnet.audio import AudioError, load_audio
from mirnet.corpus import read_librispeech
from mirnet.corpus.audio_cache import AudioCache, build_cache
from mirnet.data.mixing import MixingConfig, MixtureDataset
from mirnet.errors import CorpusError
from mirnet.train.build import build_data


def outcome(read, *args):
    """The samples, or the error a silent or empty crop raises (the same from both readers)."""
    try:
        return read(*args)
    except AudioError as exc:
        return str(exc)


def _same(a, b) -> bool:
    return a == b if isinstance(a, str) or isinstance(b, str) else np.array_equal(a, b)


@pytest.fixture
def copied(corpus, tmp_path):
    """The test corpus's seen voices in a folder of their own, so files can be changed."""
    shutil.copytree(corpus / "seen", tmp_path / "corpus" / "seen")
    shutil.copy(corpus / "speakers.tsv", tmp_path / "corpus")
    return tmp_path / "corpus" / "seen"


def test_crops_and_mixtures_are_bit_identical_to_the_files(copied, tmp_path):
    manifest = read_librispeech(copied)
    cache = AudioCache.open(build_cache(manifest, tmp_path / "cache"), manifest)
    rng = np.random.default_rng(0)
    for utt in manifest:
        start = int(rng.integers(utt.num_samples))
        for s, f in ((0, -1), (start, 4000), (start, utt.num_samples)):
            assert _same(
                outcome(cache.read, utt, s, f),
                outcome(lambda u, *a: load_audio(u.path, start=a[0], frames=a[1]), utt, s, f),
            )
    cfg = MixingConfig(2, 2.0, speed_perturb=(0.9, 1.0, 1.1), enroll_seconds=1.0)
    files, cached = MixtureDataset(manifest, cfg, 8), MixtureDataset(manifest, cfg, 8, read=cache.read)
    cached = pickle.loads(pickle.dumps(cached))  # as a DataLoader worker gets it: no shards inside
    for i in range(8):
        a, b = files[i], cached[i]
        assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_a_corpus_changed_after_caching_is_refused_naming_the_file(copied, tmp_path):
    manifest = read_librispeech(copied)
    build_cache(manifest, tmp_path / "cache")
    utt = manifest.utterances[3]
    os.utime(utt.path, ns=(0, 0))  # rewritten in place: same size, same ids, new audio
    with pytest.raises(CorpusError, match=f"{utt.path} changed after caching; rebuild it"):
        AudioCache.open(tmp_path / "cache", manifest)
    fewer = read_librispeech(copied)
    shutil.rmtree(copied / fewer.speakers[0])
    with pytest.raises(CorpusError, match="cached from a corpus with fingerprint [0-9a-f]+, but .* has"):
        AudioCache.open(tmp_path / "cache", read_librispeech(copied))
    with pytest.raises(CorpusError, match="not a complete audio cache"):
        AudioCache.open(tmp_path / "nothing", manifest)


def test_only_16_bit_pcm_is_cached(copied, tmp_path):
    utt = read_librispeech(copied).utterances[0]
    wav, sr = sf.read(utt.path)
    sf.write(utt.path, wav, sr, subtype="PCM_24")
    with pytest.raises(CorpusError, match=f"{utt.path}: PCM_24 audio; the cache holds 16-bit PCM only"):
        build_cache(read_librispeech(copied), tmp_path / "cache")


def test_training_reads_the_cache_that_data_cache_names(copied, tmp_path, tiny_config):
    build_cache(read_librispeech(copied), tmp_path / "cache")
    plain = build_data(tiny_config(f"data.train={copied}"))
    cached = build_data(tiny_config(f"data.train={copied}", f"data.cache={tmp_path / 'cache'}"))
    assert cached.train.read.__self__.root == tmp_path / "cache"
    a, b = plain.train[0], cached.train[0]
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
