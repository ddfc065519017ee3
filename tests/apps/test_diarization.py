"""Conversations with their RTTM, the diarization timeline, and its scoring by pyannote.metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from pyannote.core import Annotation, Segment, Timeline
from pyannote.database.util import load_rttm
from pyannote.metrics.diarization import DiarizationErrorRate

import mirnet
from mirnet.apps.conversation import Turn, make_conversations, talking_seconds
from mirnet.apps.diarization import DiarizationSettings, WindowOutputs, assemble, load_diarizer
from mirnet.apps.diarization_scoring import annotation, report_section
from mirnet.audio import SAMPLE_RATE, load_audio, save_audio, trim_silence
from mirnet.cli import main
from mirnet.corpus import open_corpus
from mirnet.eval.evaluate import write_cohort
from mirnet.eval.score_norm import Cohort
from mirnet.eval.setting import MixtureSetting
from mirnet.progress import silent

from ..conftest import REPO

MIRNET = REPO / "models" / "mirnet"


def _make(corpus, out):
    seen = open_corpus(corpus / "seen")
    return make_conversations(
        seen, out, speakers=(2, 3), conversations=2, minutes=0.5, overlap=0.3, progress=silent
    )


@pytest.fixture(scope="module")
def conversations(corpus, tmp_path_factory):
    return _make(corpus, tmp_path_factory.mktemp("conversations"))


def test_a_conversation_has_its_speakers_turns_and_overlap_share_in_an_rttm_pyannote_reads(conversations):
    rows = [json.loads(line) for line in (conversations / "conversations.jsonl").read_text().splitlines()]
    assert [r["speakers"] for r in rows] == [2, 3]
    for row in rows:
        reference = load_rttm(conversations / row["rttm"])[row["uri"]]
        assert len(reference.labels()) == row["speakers"]
        turns = [(s.start, s.end) for s, _, _ in reference.itertracks(yield_label=True)]
        assert max(end for _, end in turns) >= 30.0
        overlap = reference.get_overlap().duration()
        speech = reference.get_timeline().support().duration()
        assert 0.2 <= overlap / speech <= 0.45, overlap / speech


def test_a_conversation_is_a_function_of_seed_and_index(conversations, corpus, tmp_path):
    again = _make(corpus, tmp_path)
    for name in ("conv000.wav", "conv001.rttm"):
        assert (again / name).read_bytes() == (conversations / name).read_bytes()


def _unit(i: int, d: int = 8) -> np.ndarray:
    v = np.zeros(d, np.float32)
    v[i] = 1.0
    return v


def test_windows_with_two_talkers_give_overlap_and_one_talker_windows_merge_their_outputs():
    """Windows of 2 s, hop 1 s (cores of 1 s): A alone, A+B, B alone (two outputs alike), C alone
    twice; three talkers counted by the eigengap."""
    a, b, c = _unit(0), _unit(1), _unit(2)
    outputs = [np.stack(p) for p in ([a, a], [a, b], [b, b * 0.99 + a * 0.01], [c, c], [c, c])]
    speech = np.ones(610, bool)
    w = WindowOutputs("x", [0.0, 1.0, 2.0, 3.0, 4.0], outputs, speech, 6.1, 5)
    s = DiarizationSettings(window=2.0, hop=1.0, same_threshold=0.9)
    result = assemble(w, s)
    assert result.speakers == 3
    by_speaker = {}
    for t in result.turns:
        by_speaker.setdefault(t.speaker, []).append((t.start, t.end))
    spans = sorted(by_speaker.values())
    # A: the first window's core reaches the start (0-2.5 s); B: 1.5-3.5 s; C: the last window's to the end
    assert spans == [[(0.0, 2.5)], [(1.5, 3.5)], [(3.5, 6.1)]]
    assert annotation("x", result.turns).get_overlap().duration() == pytest.approx(1.0)
    assert assemble(w, s, speakers=2).speakers == 2


def test_separated_streams_say_when_each_identity_talks():
    """A talks 0-2 s, B 2-4 s; windows of 2 s, hop 1 s. The middle window's two streams are A then
    B; the outer windows' second stream is residue (-30 dB against the mixture) whose embedding, c,
    is like no talker. Without streams c is clustered as a third talker and every core is marked
    for everyone in its window; with each stream's share of the mixture's energy, the residue
    gives no identity, and A and B get their own times, with no overlap."""
    a, b, c = _unit(0), _unit(1), _unit(2)
    outputs = [np.stack([a, c]), np.stack([a, b]), np.stack([c, b])]
    loud, quiet = np.zeros(200), np.full(200, -30.0)
    halves = np.r_[np.zeros(100), np.full(100, -30.0)]
    shares = [np.stack([loud, quiet]), np.stack([halves, halves[::-1]]), np.stack([quiet, loud])]
    speech = np.ones(401, bool)
    s = DiarizationSettings(window=2.0, hop=1.0, stream_floor_db=-10.0)
    plain = assemble(WindowOutputs("x", [0.0, 1.0, 2.0], outputs, speech, 4.0, 3), s)
    assert plain.speakers == 3
    assert annotation("x", plain.turns).get_overlap().duration() == pytest.approx(4.0, abs=0.02)
    timed = assemble(WindowOutputs("x", [0.0, 1.0, 2.0], outputs, speech, 4.0, 3, shares), s)
    assert timed.speakers == 2
    assert sorted((t.start, t.end) for t in timed.turns) == [(0.0, 2.0), (2.0, 4.0)]
    assert annotation("x", timed.turns).get_overlap().duration() == 0.0


def _one_talker_der(conversations) -> dict[str, float]:
    """DER (%) of the trivial timeline, one speaker talking from start to end, per conversation and
    over all ("all"), scored as eval-diarization scores (pyannote.metrics, collar 0.25 s)."""
    metric, ders = DiarizationErrorRate(collar=0.25), {}
    for row in map(json.loads, (conversations / "conversations.jsonl").read_text().splitlines()):
        seconds = sf.info(conversations / row["wav"]).duration
        everyone = Annotation(uri=row["uri"])
        everyone[Segment(0, seconds)] = "everyone"
        reference = load_rttm(conversations / row["rttm"])[row["uri"]]
        ders[row["uri"]] = 100 * metric(reference, everyone, uem=Timeline([Segment(0, seconds)]))
    return {**ders, "all": 100 * abs(metric)}


def test_diarize_and_eval_diarization_end_to_end(conversations, tmp_path, capsys):
    """diarize's RTTM has the 3 speakers asked for, its turns within the file, and scores well below
    the one-talker timeline (DER about 45-55% here); eval-diarization's DER, tuned on these files,
    is a fraction of that baseline's on every file, and its parts add up."""
    rttm = tmp_path / "out.rttm"
    wav = conversations / "conv001.wav"
    assert main(["diarize", str(MIRNET), str(wav), "--out", str(rttm), "--speakers", "3", "--quiet"]) == 0
    hypothesis = load_rttm(rttm)["conv001"]
    seconds = sf.info(wav).duration
    assert len(hypothesis.labels()) == 3 and hypothesis.get_timeline().duration() > 10
    assert all(0 <= s.start < s.end <= seconds + 0.01 for s in hypothesis.get_timeline())
    baseline = _one_talker_der(conversations)
    assert 35 < baseline["all"] < 65, baseline  # the files are what the bands below assume
    reference = load_rttm(conversations / "conv001.rttm")["conv001"]
    der = 100 * DiarizationErrorRate(collar=0.25)(reference, hypothesis, uem=Timeline([Segment(0, seconds)]))
    assert der < 0.7 * baseline["conv001"], (der, baseline)
    api = mirnet.diarize(MIRNET, wav, speakers=3)  # the same through the API, by the model's path
    assert api.turns == [Turn(*t) for t in _rttm_turns(rttm)]
    tuned = tmp_path / "tuned.json"
    args = ["eval-diarization", str(MIRNET), "--data", str(conversations), "--quiet"]
    assert main([*args, "--tune", "--json", str(tuned)]) == 0
    result = json.loads(tuned.read_text())
    for row in ("estimated_count", "oracle_count"):
        r = result[row]
        assert r["der"] < 0.5 * baseline["all"] and r["der"] <= 30, (r["der"], baseline)
        assert [f["uri"] for f in r["files"]] == ["conv000", "conv001"]
        assert all(f["der"] < 0.5 * baseline[f["uri"]] for f in r["files"]), (r["files"], baseline)
        assert r["der_overlap"] <= 50 and r["der_single"] <= 50
        parts = r["missed"] + r["false_alarm"] + r["confusion"]
        assert parts == pytest.approx(r["der"], abs=1e-6)
    assert result["oracle_count"]["count_accuracy"] == 100.0
    best = min(t["der"] for t in result["tuned"])
    assert result["estimated_count"]["der"] == pytest.approx(best)
    # the tuned thresholds come back through --calibration, for this model only
    capsys.readouterr()
    assert main([*args, "--calibration", str(tuned)]) == 0
    settings = result["settings"]
    text = capsys.readouterr().out
    assert f"same_threshold={settings['same_threshold']} neighbours={settings['neighbours']}" in text
    teacher = str(MIRNET / "teacher")
    assert main(["diarize", teacher, str(wav), "--out", str(rttm), "--calibration", str(tuned)]) == 2
    assert f"calibrated on model {result['system']}, this model is" in capsys.readouterr().err


def test_eval_diarization_scores_systems_side_by_side_each_tuned_on_other_files(
    conversations, tmp_path, capsys
):
    out = tmp_path / "both.json"
    teacher = str(MIRNET / "teacher")
    args = ["eval-diarization", str(MIRNET), teacher, "--data", str(conversations), "--quiet"]
    assert main([*args, "--tune-on", str(conversations), "--json", str(out)]) == 0
    systems = json.loads(out.read_text())["systems"]
    assert [s["model"] for s in systems] == [str(MIRNET), teacher]
    assert all(s["tuned_on"] == str(conversations) and len(s["tuned"]) > 1 for s in systems)
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()[-4:]]
    assert rows == [
        [str(MIRNET), "estimated"],
        [str(MIRNET), "oracle"],
        [teacher, "estimated"],
        [teacher, "oracle"],
    ]
    assert main([*args, "--calibration", str(out)]) == 2
    assert "give one system with it" in capsys.readouterr().err


def test_a_cohort_centres_each_identity_and_travels_with_the_tuned_settings(
    conversations, corpus, tmp_path, capsys
):
    """``--cohort``: every identity less the cohort's mean unit embedding, renormalised, before
    merging and clustering; the tuned result records the cohort, ``diarize --calibration`` takes it
    from there, and another cohort than the tuned one, or another model's, is refused."""
    cohort = tmp_path / "cohort.npz"
    write_cohort(MIRNET, MixtureSetting(corpus / "seen", n=12, seed=3), cohort)
    wav = conversations / "conv001.wav"
    windows = torch.from_numpy(load_audio(wav)[: 2 * 48000].reshape(2, 48000))
    raw, _ = load_diarizer(MIRNET)(windows)
    centred, _ = load_diarizer(MIRNET, cohort)(windows)
    centre = torch.from_numpy(np.load(cohort)["embeddings"]).mean(0)
    want = F.normalize(F.normalize(raw, dim=-1) - centre, dim=-1)
    torch.testing.assert_close(centred, want, atol=1e-6, rtol=0)
    assert (centred - F.normalize(raw, dim=-1)).abs().max() > 0.05

    tuned = tmp_path / "tuned.json"
    args = ["eval-diarization", str(MIRNET), "--data", str(conversations), "--quiet"]
    assert main([*args, "--tune", "--cohort", str(cohort), "--json", str(tuned)]) == 0
    assert json.loads(tuned.read_text())["cohort"] == str(cohort)
    rttm = tmp_path / "out.rttm"
    capsys.readouterr()
    assert (
        main(
            [
                "diarize",
                str(MIRNET),
                str(wav),
                "--out",
                str(rttm),
                "--calibration",
                str(tuned),
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["cohort"] == str(cohort)

    other = tmp_path / "other.npz"
    write_cohort(MIRNET, MixtureSetting(corpus / "seen", n=12, seed=4), other)
    argv = ["diarize", str(MIRNET), str(wav), "--out", str(rttm), "--quiet"]
    assert main([*argv, "--calibration", str(tuned), "--cohort", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"--cohort {other}: {tuned} was tuned with the cohort {cohort}" in err and "\n" not in err
    teacher = MIRNET / "teacher"
    assert (
        main(["diarize", str(teacher), str(wav), "--out", str(rttm), "--cohort", str(cohort), "--quiet"]) == 2
    )
    assert f"{cohort}: a cohort of model" in capsys.readouterr().err

    # the report's section, given the report's cohort of a system, centres on it and says how
    lines = report_section(
        tmp_path / "report", [("mirnet", str(MIRNET))], conversations, cohorts={"mirnet": cohort}
    )
    kept = json.loads((tmp_path / "report" / "diarization" / "mirnet.json").read_text())
    text = "\n".join(lines)
    assert kept["cohort"] == str(cohort)
    assert f"| mirnet | estimated | {kept['estimated_count']['der']:.1f} |" in text
    command = f"mirnet eval-diarization {MIRNET} --data {conversations} --cohort {cohort}"
    assert f"identities centred on each system's cohort (the report's); the same rows: `{command}`" in text


def _rttm_turns(path):
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(r[7], float(r[3]), round(float(r[3]) + float(r[4]), 3)) for r in rows]


def test_digitally_silent_windows_are_pauses_not_errors(corpus, tmp_path, capsys):
    """12 s of exact zeros but for 1.5 s of speech at 4 s: the file is checked as a whole, so
    its silent windows give no speech frames instead of refusing the file (``load_audio`` of
    the window 6-9 s said "silent", exit 2, and the server answered 500)."""
    utterance = trim_silence(load_audio(next((corpus / "seen").rglob("*.flac"))))[: 3 * SAMPLE_RATE // 2]
    assert len(utterance) == 3 * SAMPLE_RATE // 2
    wav = np.zeros(12 * SAMPLE_RATE, np.float32)
    wav[4 * SAMPLE_RATE : 4 * SAMPLE_RATE + len(utterance)] = utterance
    path = save_audio(tmp_path / "pause.wav", wav)
    rttm = tmp_path / "pause.rttm"
    assert main(["diarize", str(MIRNET), str(path), "--out", str(rttm), "--quiet"]) == 0, (
        capsys.readouterr().err
    )
    turns = _rttm_turns(rttm)
    assert turns and all(4.0 <= start < end <= 5.5 for _, start, end in turns), turns
    assert sum(end - start for _, start, end in turns) >= 0.75
    assert mirnet.diarize(MIRNET, path).turns == [Turn(*t) for t in turns]


def test_a_hop_longer_than_the_window_is_refused(conversations, tmp_path, capsys):
    wav = str(conversations / "conv000.wav")
    assert (
        main(["diarize", str(MIRNET), wav, "--out", str(tmp_path / "o.rttm"), "--hop", "4", "--quiet"]) == 2
    )
    assert "hop (4.0 s) longer than the window (3.0 s)" in capsys.readouterr().err


def test_overlap_and_speech_seconds_count_each_moment_once():
    turns = [Turn("a", 0.0, 4.0), Turn("b", 3.0, 6.0), Turn("c", 3.5, 5.0), Turn("a", 7.0, 8.0)]
    assert talking_seconds(turns, 2) == pytest.approx(2.0) and talking_seconds(turns) == pytest.approx(7.0)


def test_report_gains_a_diarization_section_of_every_system(conversations, corpus, tmp_path, capsys):
    out, teacher = tmp_path / "report", str(MIRNET / "teacher")
    args = ["-q", "report", f"mirnet={MIRNET}", f"single={teacher}", "--data", str(corpus / "seen")]
    args += ["--out", str(out), "--trials", "4", "--conditions", "mixture", "--sweep", "--no-paper-figures"]
    assert main([*args, "--conversations", str(tmp_path / "none")]) == 2  # refused before any scoring
    assert "no conversations.jsonl" in capsys.readouterr().err and not (out / "REPORT.md").exists()
    assert main([*args, "--conversations-tune", str(conversations)]) == 2
    assert "--conversations-tune tunes the diarization of --conversations" in capsys.readouterr().err
    convs = ["--conversations", str(conversations), "--conversations-tune", str(conversations)]
    assert main([*args, *convs]) == 0
    text = (out / "REPORT.md").read_text()
    assert f"## Diarization: who spoke when (2 conversations of `{conversations}`" in text
    for label in ("mirnet", "single"):
        r = json.loads((out / "diarization" / f"{label}.json").read_text())
        assert r["tuned_on"] == str(conversations)
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} | estimated |"))
        assert row.split(" | ")[2] == f"{r['estimated_count']['der']:.1f}"


@pytest.mark.parametrize("damage", ["nan", "narrow"])
def test_diarize_refuses_a_nan_or_narrow_cohort_in_one_line(conversations, corpus, tmp_path, capsys, damage):
    """A NaN cohort used to turn every identity into NaN and a diarization of five speakers into
    one, with exit 0; a narrow one gave a traceback inside torch."""
    good = tmp_path / "cohort.npz"
    write_cohort(MIRNET, MixtureSetting(corpus / "seen", n=4, seed=3), good)
    cohort = Cohort.load(good)
    emb = np.full_like(cohort.embeddings, np.nan) if damage == "nan" else cohort.embeddings[:, :7]
    bad = Cohort(emb, cohort.system, cohort.meta).save(tmp_path / "bad.npz")
    capsys.readouterr()
    args = ["diarize", str(MIRNET), str(conversations / "conv001.wav"), "--cohort", str(bad), "--quiet"]
    assert main([*args, "--out", str(tmp_path / "out.rttm")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"mirnet: error: {bad}: a cohort ")


def test_the_speaker_count_takes_pyannotes_num_min_and_max(capsys):
    """Three well-apart talkers, ten identities each: the eigengap counts 3; bounds move it, a
    given number fixes it, and contradictory options are one line."""
    from mirnet.apps.diarization import DiarizationSettings, cluster

    rng = np.random.default_rng(0)
    centres = np.eye(3, 16)
    ids = np.concatenate([c + 0.05 * rng.standard_normal((10, 16)) for c in centres])
    ids /= np.linalg.norm(ids, axis=1, keepdims=True)
    s = DiarizationSettings()
    count = {
        kwargs: int(cluster(ids, s, **dict(kwargs)).max()) + 1
        for kwargs in [(), (("min_speakers", 4),), (("max_speakers", 2),), (("speakers", 5),)]
    }
    assert count[()] == 3 and count[(("max_speakers", 2),)] == 2 and count[(("speakers", 5),)] == 5
    assert 4 <= count[(("min_speakers", 4),)] <= s.max_speakers
    argv = ["diarize", "resemblyzer", __file__, "--out", "x.rttm"]
    assert main([*argv, "--num-speakers", "2", "--max-speakers", "3"]) == 2
    assert "give the number of speakers or bounds on it, not both" in capsys.readouterr().err
    assert main([*argv, "--min-speakers", "4", "--max-speakers", "3"]) == 2
    assert "--min-speakers 4 is above --max-speakers 3" in capsys.readouterr().err


def test_diarize_with_a_gallery_names_each_speaker_in_the_rttm_once(conversations, corpus, tmp_path, capsys):
    """The conversation's talkers enrolled from utterances of their own (the clean teacher, whose
    identities of one talker are one): a named speaker gets the name of the talker whose turns it
    holds most, no name twice, in the RTTM; below an impossible threshold, no one is named."""
    from mirnet.apps.diarization import Diarization

    teacher = str(MIRNET / "teacher")
    wav, truth = conversations / "conv000.wav", _rttm_turns(conversations / "conv000.rttm")
    gallery = tmp_path / "gallery"
    for talker in sorted({t[0] for t in truth}):
        files = sorted((corpus / "seen" / talker).rglob("*.flac"))[-2:]
        assert (
            main(["-q", "enroll", teacher, "--gallery", str(gallery), f"name-{talker}", *map(str, files)])
            == 0
        )
    capsys.readouterr()
    rttm = tmp_path / "named.rttm"
    argv = ["-q", "diarize", teacher, str(wav), "--out", str(rttm), "--gallery", str(gallery), "--json"]
    assert main([*argv, "--num-speakers", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    hypothesis = [Turn(*t) for t in _rttm_turns(rttm)]
    named = printed["gallery_names"]
    names = set(named.values())
    assert names and len(names) == len(named) and names <= {t.speaker for t in hypothesis}  # no name twice
    # each name is the talker the speaker's turns overlap most in the reference
    for name in names:
        mine = Diarization("conv000", [t for t in hypothesis if t.speaker == name], 1, 0, 0.0)
        overlap = {
            who: sum(
                max(0.0, min(e, t.end) - max(s, t.start)) for w, s, e in truth if w == who for t in mine.turns
            )
            for who in {t[0] for t in truth}
        }
        assert name == f"name-{max(overlap, key=overlap.get)}", (name, overlap)
    from mirnet.apps.verification import UNKNOWN, Gallery, Threshold, name_speakers

    result, embedder = mirnet.diarize(teacher, wav, speakers=2), mirnet.load(teacher)
    found = Gallery.open(gallery, embedder.fingerprint, embedder.embed_dim)
    strict = name_speakers(embedder, wav, result, found, Threshold(1e9))
    assert {m.name for m in strict.values()} == {UNKNOWN} and names <= {m.best for m in strict.values()}
