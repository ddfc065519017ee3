"""The synthetic corpus, made by the real synthesizers: a tiny one, cached between sessions."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from mirnet.corpus import synth
from mirnet.corpus.librispeech import SpeakerInfo, read_speakers_txt
from mirnet.corpus.synth import synthesize_corpus
from mirnet.corpus.voices import Voice, available_voices
from mirnet.progress import silent

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = dict(
    voices=["us1", "us2", "en1", "slt"], utterances=3, seed=0, unseen_fraction=0.25, jobs=2, progress=silent
)


@pytest.fixture(scope="session")
def tiny_corpus() -> pathlib.Path:
    out = pathlib.Path(os.environ.get("MIRNET_TEST_CACHE", REPO / ".cache" / "tests")) / "synth-tiny"
    try:
        return synthesize_corpus(out, **TINY)
    except FileExistsError:  # cached before sentences.txt or the arguments changed
        shutil.rmtree(out)
        return synthesize_corpus(out, **TINY)


@pytest.fixture(scope="module")
def two_voice_runs(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Runs a and b with seed 0 and c with seed 1 of three voices, one utterance each.

    de8 lacks diphones for English; that once made espeak-ng's MBROLA output vary between runs.
    """
    root = tmp_path_factory.mktemp("runs")
    return {
        run: synthesize_corpus(
            root / run, voices=["us1", "de8", "slt"], utterances=1, seed=seed, jobs=2, progress=silent
        )
        for run, seed in (("a", 0), ("b", 0), ("c", 1))
    }


def flacs(corpus: pathlib.Path) -> dict[str, pathlib.Path]:
    return {path.name: path for path in corpus.glob("*/*/*/*.flac")}


def mtimes(corpus: pathlib.Path) -> dict[pathlib.Path, int]:
    return {path: path.stat().st_mtime_ns for path in corpus.rglob("*") if path.is_file()}


def speakers_txt(corpus: pathlib.Path) -> dict[str, SpeakerInfo]:
    """SPEAKERS.TXT as the project's LibriSpeech reader parses it: the writer is checked against
    the one reader, not a second parser."""
    return read_speakers_txt(corpus / "SPEAKERS.TXT")


def test_layout_follows_librispeech(tiny_corpus):
    chapters = sorted(tiny_corpus.glob("*/*/*/"))
    assert len(chapters) == 4
    for chapter in chapters:
        subset, speaker = chapter.parent.parent.name, chapter.parent.name
        assert subset in {"seen", "unseen"} and speaker.isdigit() and chapter.name.isdigit()
        stems = {p.stem for p in chapter.glob("*.flac")}
        assert stems == {f"{speaker}-{chapter.name}-{u:04d}" for u in range(3)}
        trans = (chapter / f"{speaker}-{chapter.name}.trans.txt").read_text().splitlines()
        assert {line.split(" ", 1)[0] for line in trans} == stems
        assert all(re.fullmatch(r"\S+ [A-Z']+( [A-Z']+)+", line) for line in trans)
    manifest = json.loads((tiny_corpus / "corpus.json").read_text())
    assert manifest["complete"] and manifest["counts"]["utterances"] == 12
    assert set(manifest["engines"]) == {"espeak-ng", "flite"}


def test_audio_is_16k_mono_flac_of_3_to_6_seconds(tiny_corpus):
    for path in flacs(tiny_corpus).values():
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.format, info.subtype) == (16000, 1, "FLAC", "PCM_16")
        audio, _ = sf.read(path, dtype="float32")
        assert np.isfinite(audio).all()
        assert 3.0 <= len(audio) / 16000 <= 6.0
        assert np.sqrt(np.mean(audio**2)) > 0.01
        assert -4.5 < 20 * np.log10(np.abs(audio).max()) < -1.5


def test_seen_and_unseen_are_disjoint_and_speakers_txt_covers_all(tiny_corpus):
    seen = {p.name for p in (tiny_corpus / "seen").iterdir()}
    unseen = {p.name for p in (tiny_corpus / "unseen").iterdir()}
    assert seen and unseen and not seen & unseen
    rows = speakers_txt(tiny_corpus)
    assert set(rows) == seen | unseen
    assert all(
        subset == ("seen" if speaker in seen else "unseen") for speaker, (_, subset, _, _) in rows.items()
    )
    by_name = {name: (sex, minutes) for sex, _, minutes, name in rows.values()}
    assert {name: sex for name, (sex, _) in by_name.items()} == {
        "mbrola us1": "F",
        "mbrola us2": "M",
        "mbrola en1": "M",
        "flite slt": "F",
    }
    assert all(0.15 <= minutes <= 0.3 for _, minutes in by_name.values())  # 3 x 3-6 s
    tsv = (tiny_corpus / "speakers.tsv").read_text().splitlines()
    assert tsv[0].split("\t") == [
        "speaker",
        "subset",
        "engine",
        "voice",
        "language",
        "gender",
        "utterances",
        "minutes",
    ]
    assert {line.split("\t")[0] for line in tsv[1:]} == set(rows)


def test_same_seed_gives_identical_bytes(two_voice_runs, tiny_corpus):
    a, b = flacs(two_voice_runs["a"]), flacs(two_voice_runs["b"])
    assert len(a) == 3 and a.keys() == b.keys()
    assert all(a[name].read_bytes() == b[name].read_bytes() for name in a)
    # us1 and slt: same speaker IDs and audio whatever the other voices and utterance count
    shared = a.keys() & flacs(tiny_corpus).keys()
    assert len(shared) == 2
    assert all(a[n].read_bytes() == flacs(tiny_corpus)[n].read_bytes() for n in shared), (
        "audio differs from the cached corpus: bump synth.FORMAT_VERSION when the audio changes"
    )


def test_different_seed_gives_different_audio(two_voice_runs):
    a, c = flacs(two_voice_runs["a"]), flacs(two_voice_runs["c"])
    assert a.keys() == c.keys()
    assert all(a[name].read_bytes() != c[name].read_bytes() for name in a)


def test_second_call_starts_no_synthesizer_and_writes_nothing(tiny_corpus, monkeypatch):
    """Checked by what it does, not by wall time, which a loaded machine stretches."""
    before = mtimes(tiny_corpus)
    monkeypatch.setattr(synth, "worker_pool", lambda *a, **kw: pytest.fail("started synthesizers"))
    monkeypatch.setattr(synth, "require_tools", lambda *a, **kw: pytest.fail("looked for the tools"))
    assert synthesize_corpus(tiny_corpus, **TINY) == tiny_corpus
    assert mtimes(tiny_corpus) == before


def test_resume_recreates_exactly_the_missing_file(tiny_corpus):
    victim = sorted(flacs(tiny_corpus).values())[4]
    audio = victim.read_bytes()
    victim.unlink()
    others = mtimes(tiny_corpus)
    synthesize_corpus(tiny_corpus, **TINY)
    assert victim.read_bytes() == audio
    after = mtimes(tiny_corpus)
    assert after.pop(victim) and after == others


def test_speakers_takes_a_seeded_subset_split_both_ways(tmp_path, tiny_corpus):
    out = synthesize_corpus(
        tmp_path / "two", voices=TINY["voices"], speakers=2, utterances=1, jobs=2, progress=silent
    )
    rows = speakers_txt(out)
    assert len(rows) == 2 and {subset for _, subset, _, _ in rows.values()} == {"seen", "unseen"}
    assert set(rows) <= set(speakers_txt(tiny_corpus))


def test_other_arguments_in_the_same_directory_are_refused(tiny_corpus):
    with pytest.raises(FileExistsError, match="other arguments"):
        synthesize_corpus(tiny_corpus, **{**TINY, "utterances": 2})


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        (dict(speakers=1), "speakers must be at least 2"),
        (dict(utterances=0), "utterances must be at least 1"),
        (dict(unseen_fraction=-0.1), r"unseen_fraction must be in \[0, 1\)"),
        (dict(unseen_fraction=1.0), r"unseen_fraction must be in \[0, 1\)"),
        (dict(jobs=0), "jobs must be at least 1"),
        (dict(voices=["us1"]), "at least 2 distinct voices"),
        (dict(engines=()), "engines must be some of"),
        (dict(engines=("mbrola", "festival")), "engines must be some of"),
        (dict(voices=["us1", "nosuchvoice"]), r"unknown voices \['nosuchvoice'\]"),
        # installed, but espeak-ng has no mb-hn1 voice to give it phonemes: probed and skipped
        (
            dict(voices=["us1", "hn1"]),
            r"need at least 2 working voices .* skipped: \{'hn1': 'espeak-ng failed",
        ),
        (dict(voices=["us1", "slt"], speakers=3), "speakers=3 but only 2 voices work"),
    ],
)
def test_bad_arguments_raise_value_error(tmp_path, kwargs, reason):
    with pytest.raises(ValueError, match=reason):
        synthesize_corpus(tmp_path / "out", **{"jobs": 2, "progress": False, **kwargs})
    assert not (tmp_path / "out").exists()


def test_the_suite_sees_only_the_voices_make_test_installs(tmp_path):
    """de2 is a working voice many machines hold; the suite must not, or a test could depend on it."""
    from ..conftest import TEST_MBROLA_VOICES

    names = {voice.name for voice in available_voices(("mbrola",))}
    assert names <= set(TEST_MBROLA_VOICES)
    with pytest.raises(ValueError, match=r"unknown voices \['de2'\]"):
        synthesize_corpus(tmp_path / "out", voices=["us1", "de2"], progress=silent)


def test_missing_synthesizer_names_the_tool(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="espeak-ng.*make setup"):
        synthesize_corpus(tmp_path / "out", voices=["us1", "slt"], progress=silent)


def test_available_voices_keeps_only_working_ones():
    voices = available_voices()
    assert voices == sorted(voices) and len(voices) >= 10
    names = {voice.name for voice in voices}
    assert {"us1", "en1", "awb", "rms", "slt", "kal16"} <= names and not {"bz1", "hn1"} & names
    assert Voice("mbrola", "us1", "en-us", "F") in voices and Voice("flite", "awb", "en", "M") in voices


def test_speaker_ids_come_from_the_fixed_voice_catalogue(tiny_corpus):
    """IDs must not depend on which other voices a machine has installed (CI installs a few)."""
    ids = {
        row.split("\t")[3]: row.split("\t")[0]
        for row in (tiny_corpus / "speakers.tsv").read_text().splitlines()[1:]
    }
    assert ids == {"slt": "1003", "us1": "1075", "us2": "1076", "en1": "1027"}


def test_espeak_variants_make_a_corpus_of_extra_training_speakers(tmp_path, tiny_corpus):
    """unseen_fraction=0: all seen; IDs from 2000, so it trains beside the default corpus."""
    out = synthesize_corpus(
        tmp_path / "variants",
        engines=("espeak",),
        voices=["m1", "f2", "whisper"],
        utterances=1,
        unseen_fraction=0.0,
        jobs=2,
        progress=silent,
    )
    rows = speakers_txt(out)
    assert {subset for _, subset, _, _ in rows.values()} == {"seen"} and not (out / "unseen").exists()
    assert {name: (speaker, sex) for speaker, (sex, _, _, name) in rows.items()} == {
        "espeak f2": ("2043", "F"),
        "espeak m1": ("2064", "M"),
        "espeak whisper": ("2098", "M"),
    }
    audio, rate = sf.read(next(out.glob("seen/2064/*/*.flac")))
    assert rate == 16000 and 3.0 <= len(audio) / rate <= 6.0
    assert not set(rows) & set(speakers_txt(tiny_corpus))


def test_a_corpus_made_before_engines_existed_is_still_complete(tmp_path, tiny_corpus):
    old = shutil.copytree(tiny_corpus, tmp_path / "old")
    manifest = json.loads((old / "corpus.json").read_text())
    del manifest["args"]["engines"]
    (old / "corpus.json").write_text(json.dumps(manifest))
    before = mtimes(old)
    assert synthesize_corpus(old, **TINY) == old and mtimes(old) == before
