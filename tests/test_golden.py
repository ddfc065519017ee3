"""The shipped models pinned: on fixed mixtures of the test voices, each shipped embedder's
embeddings and each shipped separator's outputs (their SI-SDR against the sources) match the
values stored in ``tests/golden/shipped.json`` to a tolerance, so that a refactor cannot quietly
change what users get. A deliberate change (a retrained model) rewrites the file with
``MIRNET_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and says so in its commit."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest
import soundfile as sf

import mirnet
from mirnet.cli import main
from mirnet.separation.metrics import score_separation

from .conftest import REPO

GOLDEN = REPO / "tests" / "golden" / "shipped.json"
EMBEDDERS = ["reference", "mirnet", "mirnet/teacher"]
SEPARATORS = ["upit", "upit_recorded"]
SEEDS = (3, 4)
DIMS = 16  # of each embedding, stored
EMBEDDING_TOL, SDR_TOL = 2e-3, 0.05  # float differences across x86 CPUs are far below these


@pytest.fixture(scope="module")
def mixtures(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("golden")
    for seed in SEEDS:
        argv = ["-q", "corpus", "mix", str(corpus / "unseen"), str(out / f"m{seed}.wav"), "--seed", str(seed)]
        assert main([*argv, "--sir", "0"]) == 0
    return out


def measure(mixtures) -> dict:
    got: dict = {"embeddings": {}, "si_sdr": {}}
    for name in EMBEDDERS:
        model = mirnet.load(name, precision="fp32")
        got["embeddings"][name] = {
            str(seed): model.embed_file(mixtures / f"m{seed}.wav")[:, :DIMS].tolist() for seed in SEEDS
        }
    for name in SEPARATORS:
        sep, got["si_sdr"][name] = mirnet.load_separator(name), {}
        for seed in SEEDS:
            mix = sf.read(mixtures / f"m{seed}.wav", dtype="float32")[0]
            refs = np.stack(
                [sf.read(mixtures / f"m{seed}.source{k}.wav", dtype="float32")[0] for k in (1, 2)]
            )
            est = sep.separate_file(mixtures / f"m{seed}.wav").numpy()
            scores = [
                score_separation(est[list(p)], refs, mix, metrics=("si_sdr",))["si_sdr"]
                for p in itertools.permutations(range(2))
            ]
            got["si_sdr"][name][str(seed)] = max(scores, key=lambda s: s.sum()).tolist()
    return got


def test_the_shipped_models_give_what_they_gave(mixtures, one_thread):
    got = measure(mixtures)
    if os.environ.get("MIRNET_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert set(golden["embeddings"]) == set(EMBEDDERS) and set(golden["si_sdr"]) == set(SEPARATORS)
    for name in EMBEDDERS:
        for seed in map(str, SEEDS):
            np.testing.assert_allclose(
                got["embeddings"][name][seed],
                golden["embeddings"][name][seed],
                atol=EMBEDDING_TOL,
                err_msg=name,
            )
    for name in SEPARATORS:
        for seed in map(str, SEEDS):
            np.testing.assert_allclose(
                got["si_sdr"][name][seed], golden["si_sdr"][name][seed], atol=SDR_TOL, err_msg=name
            )
