"""Pretrained peers on real synthesized speech: the protocol's embedder contract, faithfulness to
the peer's own API, and `mirnet eval PEER` on a trial list a mirnet model would be scored on."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from mirnet.audio import load_audio
from mirnet.cli import main
from mirnet.eval.peers import Resemblyzer

REASON = "resemblyzer is not installed (pip install -e '.[peers]')"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The peer runs its LSTM clip by clip on a few windows: a second thread adds only
    synchronisation, which on a busy 2-core machine cost 40 s per test, against 2 s with one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def peer():
    pytest.importorskip("resemblyzer", reason=REASON)
    return Resemblyzer()


@pytest.fixture(scope="module")
def clips(corpus):
    """Three 3-s crops of real utterances, one per file."""
    return sorted((corpus / "seen").rglob("*.flac"))[:3]


def test_batch_gives_one_unit_embedding_per_clip_deterministically(peer, clips):
    wavs = torch.from_numpy(np.stack([load_audio(p, frames=48000) for p in clips]))
    emb = peer(wavs)
    assert emb.shape == (3, 1, peer.embed_dim) == (3, 1, 256) and emb.dtype == torch.float32
    assert torch.isfinite(emb).all() and torch.allclose(emb.norm(dim=-1), torch.ones(3, 1))
    assert torch.equal(emb, peer(wavs))
    # a clip's embedding does not depend on its batch (up to the batched LSTM's summation order)
    torch.testing.assert_close(emb[1:2], peer(wavs[1:2]), atol=1e-6, rtol=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # librosa.load's audioread imports
def test_same_embedding_as_resemblyzers_own_file_api(peer, clips):
    """The batched windows give resemblyzer's own embed_utterance clip by clip, for clips whose
    silence trimming leaves different lengths (so different window counts) in one batch."""
    from resemblyzer import preprocess_wav

    wavs = [load_audio(p) for p in clips]
    n = min(map(len, wavs))
    ours = peer(torch.from_numpy(np.stack([w[:n] for w in wavs])))[:, 0].numpy()
    theirs = np.stack([peer.encoder.embed_utterance(preprocess_wav(w[:n])) for w in wavs])
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_cli_scores_the_peer_on_a_shared_trial_list(peer, corpus, tmp_path):
    trials = tmp_path / "trials.json"
    args = [
        "-q",
        "eval",
        "resemblyzer",
        "--data",
        str(corpus / "seen"),
        "--trials",
        "4",
        "--crop",
        "2",
        "--trial-list",
        str(trials),
    ]
    for condition in ("mixture", "enrolled"):
        assert main([*args, "--condition", condition, "--json", str(tmp_path / f"{condition}.json")]) == 0
    mixture, enrolled = (json.loads((tmp_path / f"{c}.json").read_text()) for c in ("mixture", "enrolled"))
    assert mixture["model"] == "resemblyzer" and mixture["trials"] == enrolled["trials"] == 4
    assert mixture["trial_list_sha1"] == enrolled["trial_list_sha1"] and enrolled["condition"] == "enrolled"
    assert {"eer", "eer_ci", "min_dcf", "speakers", "metric"} <= set(mixture)


def test_missing_package_is_one_line(monkeypatch, corpus, capsys):
    monkeypatch.setitem(sys.modules, "resemblyzer", None)  # import fails as if not installed
    assert main(["-q", "eval", "resemblyzer", "--data", str(corpus / "seen"), "--trials", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("mirnet: error: resemblyzer: cannot import it")
        and "[peers]" in err
        and "\n" not in err
    )
