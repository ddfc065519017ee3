"""AS-norm against a cohort: the formula, the offset it removes, and `mirnet cohort` / `mirnet eval
--cohort` end to end on the test voices, with another model's cohort refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mirnet.api import inference_precision
from mirnet.cli import main
from mirnet.distances import closest_pair_distance
from mirnet.eval.metrics import eer
from mirnet.eval.score_norm import Cohort, ScoreNorm, pairwise_asnorm_distance

from ..conftest import REPO

MIRNET = REPO / "models" / "mirnet"


def _unit(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=-1)


def test_asnorm_is_the_mean_of_both_sides_z_scores_over_their_top_k_cohort_scores():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 2, 6, generator=g), torch.randn(3, 4, 6, generator=g)
    cohort = _unit(torch.randn(20, 6, generator=g)).numpy()
    got = pairwise_asnorm_distance(a, b, cohort, top_k=5)
    an, bn = _unit(a).numpy(), _unit(b).numpy()
    want = np.zeros((3, 2, 4))
    for t in range(3):
        for i in range(2):
            for j in range(4):
                s = an[t, i] @ bn[t, j]
                top_a = np.sort(cohort @ an[t, i])[-5:]
                top_b = np.sort(cohort @ bn[t, j])[-5:]
                want[t, i, j] = -((s - top_a.mean()) / top_a.std() + (s - top_b.mean()) / top_b.std()) / 2
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)


def test_asnorm_takes_out_the_offset_of_embeddings_close_to_many_voices():
    """Non-target pairs in a crowded region of the cohort score raw cosines as high as target pairs
    far from it (chance EER); normalised by the cohort, the two sets come apart."""
    g = torch.Generator().manual_seed(1)
    hub = _unit(torch.randn(16, generator=g))
    cohort = _unit(hub + 0.3 * torch.randn(100, 16, generator=g)).numpy()

    def near(centres):
        return _unit(centres + 0.2 * torch.randn(centres.shape, generator=g))

    far = _unit(torch.randn(40, 16, generator=g))  # one voice per target trial, away from the crowd
    target, crowded = (near(far), near(far)), (near(hub.expand(40, -1)), near(hub.expand(40, -1)))
    labels = np.r_[np.ones(40), np.zeros(40)].astype(int)

    def scores(distance):
        pairs = (target, crowded)
        return -torch.cat([closest_pair_distance(distance(x[:, None], y[:, None])) for x, y in pairs]).numpy()

    raw = scores(lambda x, y: 1 - x @ y.transpose(-1, -2))
    assert eer(raw, labels) >= 40.0
    assert eer(scores(ScoreNorm("asnorm", cohort, top_k=20).pairwise), labels) <= 15.0
    assert eer(scores(ScoreNorm("mean", cohort).pairwise), labels) <= 15.0


def test_mean_normalisation_is_the_cosine_of_both_sides_less_the_cohorts_mean():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(2, 3, 5, generator=g), torch.randn(2, 2, 5, generator=g)
    cohort = _unit(torch.randn(30, 5, generator=g))
    centre = cohort.mean(0)
    want = 1 - _unit(_unit(a) - centre) @ _unit(_unit(b) - centre).transpose(-1, -2)
    torch.testing.assert_close(ScoreNorm("mean", cohort.numpy()).pairwise(a, b), want)


@pytest.fixture(scope="module")
def cohort(corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("cohort") / "reference.npz"
    args = ["-q", "cohort", str(MIRNET), "--data", str(corpus / "seen"), "--n", "12", "--out", str(path)]
    assert main(args) == 0
    return path


def test_eval_with_a_cohort_records_the_normalisation_and_scores_the_same_trials(corpus, cohort, tmp_path):
    c = Cohort.load(cohort)
    assert c.embeddings.shape == (24, 192) and c.meta["n"] == 12 and c.meta["data"] == str(corpus / "seen")
    np.testing.assert_allclose(np.linalg.norm(c.embeddings, axis=1), 1.0, rtol=1e-5)
    # the test corpus's 2 unseen voices cannot make trials (4 speakers each): the trials draw on
    # the 6 seen ones, other mixtures of them than the cohort's
    base = ["-q", "eval", str(MIRNET), "--data", str(corpus / "seen"), "--trials", "12", "--seed", "5"]
    base += ["--trial-list", str(tmp_path / "trials.json")]
    assert main([*base, "--json", str(tmp_path / "raw.json")]) == 0
    assert main([*base, "--cohort", str(cohort), "--top-k", "8", "--json", str(tmp_path / "norm.json")]) == 0
    raw, norm = (json.loads((tmp_path / f"{k}.json").read_text()) for k in ("raw", "norm"))
    assert raw["score_norm"] is None and raw["trial_list_sha1"] == norm["trial_list_sha1"]
    assert norm["score_norm"] == {
        "method": "asnorm",
        "top_k": 8,
        "cohort": str(cohort),
        "cohort_size": 24,
        "cohort_precision": inference_precision("auto"),  # what `mirnet cohort` embedded it at
    }
    assert 0.0 <= norm["eer"] <= 100.0
    assert (
        main([*base, "--cohort", str(cohort), "--score-norm", "mean", "--json", str(tmp_path / "m.json")])
        == 0
    )
    assert json.loads((tmp_path / "m.json").read_text())["score_norm"]["method"] == "mean"


def test_a_cohort_of_another_model_or_a_euclidean_metric_is_refused_in_one_line(corpus, cohort, capsys):
    teacher = str(MIRNET / "teacher")
    args = ["-q", "eval", teacher, "--data", str(corpus / "seen"), "--trials", "4", "--cohort", str(cohort)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{cohort}: a cohort of model " in err and ", this model is " in err
    args = ["-q", "eval", str(MIRNET), "--data", str(corpus / "seen"), "--trials", "4"]
    assert main([*args, "--cohort", str(cohort), "--metric", "euclidean"]) == 2
    assert "score normalisation takes cosine scores, not euclidean distances" in capsys.readouterr().err
    assert main([*args, "--cohort", str(cohort), "--top-k", "1"]) == 2
    assert "--top-k: AS-norm needs at least 2 cohort scores per side, got 1" in capsys.readouterr().err
    assert main([*args, "--cohort", str(corpus / "SPEAKERS.TXT")]) == 2
    assert "not a cohort" in capsys.readouterr().err


@pytest.mark.parametrize(
    "damage,message",
    [
        ("truncated", "not a cohort (BadZipFile"),
        ("nan", "a cohort with NaN, infinite or zero embeddings"),
        ("empty", "a cohort must hold (embeddings, dims) floats, got float32 (0, "),
        ("narrow", "a cohort of 7-dimensional embeddings, this model's are "),
    ],
)
def test_a_damaged_cohort_is_refused_in_one_line_not_used(corpus, cohort, tmp_path, capsys, damage, message):
    """A NaN or empty cohort used to pass and change every score (a diarization of five speakers
    became one); a truncated or narrow one gave a traceback."""
    good = Cohort.load(cohort)
    bad = tmp_path / f"{damage}.npz"
    if damage == "truncated":
        bad.write_bytes(cohort.read_bytes()[:-100])
    else:
        emb = {"nan": np.full_like(good.embeddings, np.nan), "empty": good.embeddings[:0]}.get(damage)
        emb = good.embeddings[:, :7] if damage == "narrow" else emb
        Cohort(emb, good.system, good.meta).save(bad)
    args = ["-q", "eval", str(MIRNET), "--data", str(corpus / "seen"), "--trials", "4", "--cohort", str(bad)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and f"{bad}: {message}" in err, err
