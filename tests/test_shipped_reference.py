"""The shipped reference is what the docs say it is: the separate-then-embed pair linked to the
shipped uPIT separator and the cascade's embedder (so the repository holds their weights once),
loading through mirnet.load, with the AS-norm cohort that this very file drew from training
voices only."""

from __future__ import annotations

import numpy as np

import mirnet
from mirnet.audio import load_audio
from mirnet.checkpoint import LINKS, load_file, read_bundle
from mirnet.eval.evaluate import system_fingerprint
from mirnet.eval.score_norm import Cohort

from .conftest import REPO

REFERENCE, SEPARATORS = REPO / "models" / "reference", REPO / "models" / "separators"


def test_the_reference_links_the_shipped_separator_and_embedder(corpus, one_thread):
    links = load_file(REFERENCE / "model.pt")[LINKS]
    assert {k: (REFERENCE / v["file"]).resolve() for k, v in links.items()} == {
        "separator": (SEPARATORS / "upit" / "model.pt").resolve(),
        "embedder": (SEPARATORS / "cascade" / "model.pt").resolve(),
    }
    bundle = read_bundle(REFERENCE)
    assert bundle["model"]["name"] == "separating_embedder"
    upit = read_bundle(SEPARATORS / "upit")["state_dict"]
    assert all(bundle["state_dict"][f"separator.{k}"].equal(v) for k, v in upit.items())
    files = sorted((corpus / "unseen").rglob("*.flac"))
    mixture = load_audio(files[0], frames=48000) + load_audio(files[-1], frames=48000)
    emb = mirnet.load(REFERENCE).embed(mixture)
    assert emb.shape == (2, 256) and np.isfinite(emb.numpy()).all()


def test_its_cohort_was_drawn_by_it_from_training_voices_only_in_fp32():
    cohort = Cohort.load(REFERENCE / "cohort.npz", system_fingerprint(REFERENCE))  # refused if not its own
    assert cohort.embeddings.shape == (1200, 256)
    assert cohort.meta["training"] and cohort.meta["data"] == "data/corpus/seen"
    assert cohort.meta["precision"] == "fp32"  # what the report's printed cohort command passes
