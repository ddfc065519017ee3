"""Shared fixtures: a small real corpus synthesized once (espeak-ng + MBROLA, flite) and cached
under .cache/tests between runs, and a tiny model config that trains in seconds.

The suite sees only the MBROLA voices of tests/voices.txt, the ones `make test` installs, even on
a machine that holds more: a test that needs another voice fails here as on a fresh machine."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest
import torch

from mirnet.corpus.synth import synthesize_corpus
from mirnet.corpus.voices import MBROLA_DIR
from mirnet.progress import silent
from mirnet.train.experiment import load_experiment

REPO = pathlib.Path(__file__).resolve().parents[1]
CACHE = pathlib.Path(os.environ.get("MIRNET_TEST_CACHE", REPO / ".cache" / "tests"))
TEST_MBROLA_VOICES = [
    line.strip()
    for line in (REPO / "tests" / "voices.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
VOICES = ["us1", "us2", "us3", "en1", "de1", "fr1", "slt", "awb"]
TINY_MODEL = {
    "encoder": {"channels": [32, 32, 32, 32, 64], "norm": "batch"},
    "attention": {"hidden": 16, "out_dim": 48},
    "speaker_net": {"name": "tdnn", "channels": 48, "pool_channels": 64, "embed_dim": 32},
}


def pytest_configure(config):
    """MIRNET_MBROLA_DIR -> a folder of links to the test voices alone; set before any test runs,
    so synthesizer workers and CLI subprocesses inherit it."""
    visible = CACHE / "mbrola-test-voices"
    visible.mkdir(parents=True, exist_ok=True)
    for link in visible.iterdir():  # in place, not rebuilt: another test run may be reading it
        if link.name not in TEST_MBROLA_VOICES or not link.exists():
            link.unlink(missing_ok=True)
    for name in TEST_MBROLA_VOICES:
        if (MBROLA_DIR / name).is_dir() and not (visible / name).is_symlink():
            try:
                (visible / name).symlink_to(MBROLA_DIR / name)
            except FileExistsError:  # made by a run started at the same moment
                pass
    os.environ["MIRNET_MBROLA_DIR"] = str(visible)


@pytest.fixture(scope="session")
def corpus() -> pathlib.Path:
    """8 speakers x 6 utterances: 6 seen, 2 unseen."""
    out = CACHE / "corpus-8x6"
    args = dict(voices=VOICES, utterances=6, seed=0, unseen_fraction=0.25, jobs=2, progress=silent)
    try:
        return synthesize_corpus(out, **args)
    except FileExistsError:  # cached by an older version with other arguments
        shutil.rmtree(out)
        return synthesize_corpus(out, **args)


@pytest.fixture
def tiny_config(corpus):
    """A config whose model and epochs are small enough for a unit test."""

    def make(*overrides: str, model: dict | None = None):
        cfg = load_experiment(
            None,
            [
                f"data.train={corpus / 'seen'}",
                "data.epoch_size=16",
                "data.val_size=8",
                "data.batch_size=8",
                "data.workers=0",
                "train.epochs=2",
                "train.threads=1",
                "train.log_every=1",
                "optim.warmup_steps=2",
                *overrides,
            ],
        )
        cfg.model.args = dict(model if model is not None else TINY_MODEL)
        return cfg

    return make


@pytest.fixture
def one_thread():
    """One thread: on a shared 2-core machine idle threads spinning on a busy core cost more
    than the tiny models' work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
