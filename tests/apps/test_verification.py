"""verify / enroll / identify on the shipped MIRNet, its clean model and synthesized voices: the score is
the protocol's, the stored threshold reproduces its calibration's operating point, a gallery or
calibration of another model is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mirnet
from mirnet.apps.verification import UNKNOWN, Gallery
from mirnet.audio import save_audio
from mirnet.cli import main
from mirnet.corpus import open_corpus
from mirnet.data.mixing import MixtureSpec, mix, read_sources
from mirnet.errors import InputError
from mirnet.eval.evaluate import evaluate, write_cohort
from mirnet.eval.protocol import condition_specs
from mirnet.eval.setting import MixtureSetting, TrialSetting
from mirnet.eval.trials import load_trials
from mirnet.progress import silent

from ..conftest import REPO

MIRNET, TEACHER = REPO / "models" / "mirnet", REPO / "models" / "mirnet" / "teacher"


@pytest.fixture(scope="module")
def embedder():
    return mirnet.load(MIRNET)


@pytest.fixture(scope="module")
def calibrated(corpus, tmp_path_factory):
    """A 60-trial evaluation of the shipped MIRNet on the seen test voices, with its trial list."""
    out = tmp_path_factory.mktemp("calibration")
    setting = TrialSetting(corpus / "seen", trials=60, seed=3)
    # the same trials raw, and normalised against a cohort of other mixtures of the same voices
    write_cohort(MIRNET, MixtureSetting(corpus / "seen", n=12, seed=9), out / "cohort.npz")
    normalised = dict(cohort=out / "cohort.npz", top_k=10)
    for name, norm in (
        ("eval", {}),
        ("eval_asnorm", normalised),
        ("eval_mean", {**normalised, "score_norm": "mean"}),
    ):
        result = evaluate(MIRNET, setting, trial_list=out / "trials.json", progress=silent, **norm)
        (out / f"{name}.json").write_text(json.dumps(result))
    return out


def _utterances(corpus, speaker):
    return sorted((corpus / "seen").glob(f"{speaker}/*/*.flac"))


@pytest.mark.parametrize("calibration", ["eval.json", "eval_asnorm.json", "eval_mean.json"])
def test_verify_at_the_stored_threshold_reproduces_the_calibrations_operating_point(
    corpus, calibrated, embedder, calibration
):
    result = json.loads((calibrated / calibration).read_text())
    trials, _, _ = load_trials(calibrated / "trials.json")
    index = open_corpus(corpus / "seen").index
    clips = [mix(read_sources(s, index))[0] for s in condition_specs(trials, "mixture")]
    accepted = {True: [], False: []}  # by whether the pair shares a speaker
    for k in range(len(trials)):
        anchor, positive, negative = clips[3 * k : 3 * k + 3]
        for other, target in ((positive, True), (negative, False)):
            v = mirnet.verify(embedder, anchor, other, calibration=calibrated / calibration)
            assert v.threshold == result["eer_threshold"]
            norm = result["score_norm"]
            assert v.metric == result["metric"] + (f"+{norm['method']}" if norm else "")
            accepted[target].append(v.accepted)
    miss = 100 * (1 - np.mean(accepted[True]))
    false_alarm = 100 * np.mean(accepted[False])
    step = 100 / len(trials)  # the threshold lies between two neighbouring operating points
    assert abs(miss - result["eer"]) <= step + 1e-6 and abs(false_alarm - result["eer"]) <= step + 1e-6, (
        miss,
        false_alarm,
        result["eer"],
    )


def test_verify_cli_prints_score_threshold_decision_and_matched_pair(corpus, calibrated, tmp_path, capsys):
    speaker, other = sorted(p.name for p in (corpus / "seen").iterdir() if p.is_dir())[:2]
    a, b = _utterances(corpus, speaker)[:2]
    assert (
        main(
            [
                "verify",
                str(MIRNET),
                str(a),
                str(b),
                "--calibration",
                str(calibrated / "eval.json"),
                "--json",
            ]
        )
        == 0
    )
    same = json.loads(capsys.readouterr().out)
    assert (
        same["accepted"] is True and len(same["pair"]) == 2 and same["threshold_source"].endswith("eval.json")
    )
    c = _utterances(corpus, other)[0]
    assert main(["verify", str(MIRNET), str(a), str(c), "--threshold", str(same["score"])]) == 0
    text = capsys.readouterr().out
    assert "decision: different speakers" in text and f"threshold: {same['score']:.4f} (given)" in text


def test_a_calibration_of_another_model_or_without_threshold_is_refused(corpus, calibrated, tmp_path, capsys):
    a = _utterances(corpus, sorted(p.name for p in (corpus / "seen").iterdir() if p.is_dir())[0])[0]
    fingerprint = json.loads((calibrated / "eval.json").read_text())["system"]
    assert main(["verify", str(TEACHER), str(a), str(a), "--calibration", str(calibrated / "eval.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"calibrated on model {fingerprint}, this model is " in err
    (tmp_path / "bad.json").write_text('{"eer": 3.0}')
    with pytest.raises(InputError, match="bad.json: not a calibration: no eer_threshold"):
        mirnet.verify(MIRNET, a, a, calibration=tmp_path / "bad.json")


def test_enroll_then_identify_names_both_speakers_of_a_mixture(corpus, embedder, tmp_path, capsys):
    speakers = sorted(p.name for p in (corpus / "seen").iterdir() if p.is_dir())[:4]
    gallery = tmp_path / "gallery"
    for s in speakers:
        files = [str(f) for f in _utterances(corpus, s)[1:4]]
        assert main(["enroll", str(MIRNET), "--gallery", str(gallery), f"name-{s}", *files]) == 0
        said = capsys.readouterr().out
        assert "from 3 recordings;" in said and ("1 name:" if s == speakers[0] else "names:") in said
    reopened = Gallery.open(gallery, embedder.fingerprint, embedder.embed_dim)
    assert reopened.names == [f"name-{s}" for s in speakers]
    assert reopened.embeddings.shape == (4 * 3 * embedder.n_speakers, embedder.embed_dim)
    assert np.allclose(np.linalg.norm(reopened.embeddings, axis=1), 1.0, atol=1e-5)
    # a mixture of utterances of the first two speakers that were not enrolled
    index = open_corpus(corpus / "seen").index
    first = [sorted(u for u in index if index[u].speaker == s)[0] for s in speakers[:2]]
    spec = MixtureSpec(tuple(first), tuple(speakers[:2]), (0, 0), (0.0, 0.0), (0, 0), 48000)
    mixture = save_audio(tmp_path / "mix.wav", mix(read_sources(spec, index))[0])
    capsys.readouterr()
    assert main(["identify", str(MIRNET), str(mixture), "--gallery", str(gallery), "--json"]) == 0
    matches = json.loads(capsys.readouterr().out)["matches"]
    assert sorted(m["name"] for m in matches) == [f"name-{s}" for s in speakers[:2]]
    high = max(m["score"] for m in matches) + 1e-3
    unknown = mirnet.identify(embedder, mixture, gallery, threshold=high)
    assert {m.name for m in unknown} == {UNKNOWN} and {m.best for m in unknown} == {
        m["name"] for m in matches
    }


def test_a_gallery_of_another_model_is_refused_in_one_line(corpus, embedder, tmp_path, capsys):
    a = _utterances(corpus, sorted(p.name for p in (corpus / "seen").iterdir() if p.is_dir())[0])[0]
    mirnet.enroll(embedder, tmp_path / "g", "one", [a])
    # fewer names than identities: each identity still gets its closest name
    assert [m.name for m in mirnet.identify(embedder, a, tmp_path / "g")] == ["one"] * embedder.n_speakers
    assert main(["identify", str(TEACHER), str(a), "--gallery", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"gallery made by model {embedder.fingerprint}, this model is " in err and "\n" not in err
    with pytest.raises(InputError, match="'unknown' cannot be a name"):
        mirnet.enroll(embedder, tmp_path / "g", UNKNOWN, [a])
    (tmp_path / "g" / "gallery.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="g: unreadable gallery"):
        mirnet.identify(embedder, a, tmp_path / "g")
    with pytest.raises(InputError, match="no gallery here"):
        mirnet.identify(embedder, a, tmp_path / "none")


@pytest.fixture
def shipped(calibrated, tmp_path):
    """The shipped MIRNet's folder as a model that ships its calibrations: the AS-norm result as
    calibration.json (its cohort named relative, beside it), a strict enrolled one, a lax clean
    one, and no more."""
    folder = tmp_path / "shipped" / "mirnet"
    folder.mkdir(parents=True)
    for name in ("model.pt", "config.yaml"):
        (folder / name).write_bytes((MIRNET / name).read_bytes())
    (folder / "cohort.npz").write_bytes((calibrated / "cohort.npz").read_bytes())
    result = json.loads((calibrated / "eval_asnorm.json").read_text())
    result["score_norm"]["cohort"] = "cohort.npz"  # as shipped: found beside the calibration
    (folder / "calibration.json").write_text(json.dumps(result))
    (folder / "calibration_enrolled.json").write_text(
        json.dumps({**result, "eer_threshold": 1e9, "condition": "enrolled"})
    )
    (folder / "calibration_clean.json").write_text(
        json.dumps({**result, "eer_threshold": -1e9, "condition": "clean"})
    )
    return folder


def test_a_model_that_ships_calibrations_decides_by_default(corpus, calibrated, shipped, tmp_path, capsys):
    a, b = (_utterances(corpus, s)[0] for s in sorted(p.name for p in (corpus / "seen").iterdir())[:2])
    moved = tmp_path / "elsewhere"
    shipped.rename(moved)  # a folder moved or installed elsewhere finds its own cohort
    v = mirnet.verify(moved, a, b)
    expected = json.loads((calibrated / "eval_asnorm.json").read_text())["eer_threshold"]
    assert v.threshold == pytest.approx(expected) and v.threshold_source == str(moved / "calibration.json")
    assert v.accepted is not None and v.metric.endswith("+asnorm")  # the score's scale is the calibration's
    assert mirnet.verify(moved, a, b, calibrated=False).accepted is None
    assert main(["verify", str(moved), str(a), str(b), "--uncalibrated"]) == 0
    assert "decision: -" in capsys.readouterr().out
    assert main(["verify", str(moved), str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert f"({moved / 'calibration.json'}, measured on mixture trials)" in out and "decision: -" not in out
    # each condition its own threshold: two clean voices are judged by the clean trials' one
    clean = mirnet.verify(moved, a, b, condition="clean")
    assert clean.threshold == -1e9 and clean.accepted and clean.condition == "clean"
    assert mirnet.verify(moved, a, b, condition="enrolled").accepted is False
    assert main(["verify", str(moved), str(a), str(b), "--condition", "clean"]) == 0
    out = capsys.readouterr().out
    assert f"({moved / 'calibration_clean.json'}, measured on clean trials)" in out and "same speaker" in out
    with pytest.raises(InputError, match="condition must be one of mixture, enrolled, clean, got 'cascade'"):
        mirnet.verify(moved, a, b, condition="cascade")
    # identify: the enrolled calibration, so below its threshold every name is unknown
    gallery = tmp_path / "gallery"
    mirnet.enroll(moved, gallery, "alice", _utterances(corpus, a.parts[-3])[1:3])
    assert {m.name for m in mirnet.identify(moved, a, gallery)} == {UNKNOWN}
    assert {m.name for m in mirnet.identify(moved, a, gallery, calibrated=False)} == {"alice"}


def test_a_shipped_diarization_calibration_and_cohort_are_the_defaults(calibrated, shipped, tmp_path):
    from mirnet.apps.diarization import DiarizationSettings, diarization_settings
    from mirnet.checkpoint import model_fingerprint

    fingerprint = model_fingerprint(shipped)
    # no diarization.json: the defaults, centred on the cohort shipped beside the model
    settings, cohort = diarization_settings(shipped, fingerprint)
    assert settings == DiarizationSettings() and cohort == str(shipped / "cohort.npz")
    assert diarization_settings(shipped, fingerprint, calibrated=False) == (DiarizationSettings(), None)
    tuned = {
        "system": fingerprint,
        "settings": {"same_threshold": 0.55, "neighbours": 0.3},
        "cohort": "cohort.npz",
    }
    (shipped / "diarization.json").write_text(json.dumps(tuned))
    settings, cohort = diarization_settings(shipped, fingerprint, given={"hop": 1.0, "neighbours": None})
    assert (settings.same_threshold, settings.neighbours, settings.hop) == (0.55, 0.3, 1.0)
    assert cohort == str(shipped / "cohort.npz")
    # a cohort of the user's sets the shipped settings aside (they hold for the shipped cohort)
    other = calibrated / "other.npz"
    assert diarization_settings(shipped, fingerprint, cohort=other) == (DiarizationSettings(), str(other))
    with pytest.raises(InputError, match="was tuned with the cohort cohort.npz"):  # a given one: refused
        diarization_settings(shipped, fingerprint, shipped / "diarization.json", cohort=other)
