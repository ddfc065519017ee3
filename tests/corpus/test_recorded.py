"""The recorded corpus, built from the real Debian packages (scripts/install_recorded.sh): a few
voices, three utterances each, so the suite stays quick."""

from __future__ import annotations

import fnmatch
import json
import pathlib
import re
import zipfile

import numpy as np
import pytest
import soundfile as sf

from mirnet.corpus import read_librispeech
from mirnet.corpus.librispeech import read_speakers_txt, speaker_metadata
from mirnet.corpus.recorded import (
    MIN_SECONDS,
    SKIPPED_FOLDERS,
    SOURCES,
    VOICES,
    _roots,
    _voice_files,
    build_recorded_corpus,
)
from mirnet.errors import InputError, MissingDependency
from mirnet.progress import silent

# a split folder (zoqfotpik), a merged voice (commander + starbase), a two-reader folder (ru), a
# klettres reader and a pocketsphinx one, in both subsets
TINY = [
    "uqm/zoqfotpik-low",
    "uqm/zoqfotpik-high",
    "uqm/commander",
    "ktuberling/ru-a",
    "ktuberling/ru-b",
    "klettres/de-syllab",
    "pocketsphinx/librivox",
]
UNSEEN = set(
    (
        "uqm/commander uqm/probe uqm/slylandro uqm/supox uqm/yehat ktuberling/lt ktuberling/nn "
        "ktuberling/ru-a ktuberling/uk ktuberling/wa klettres/es klettres/hu klettres/ml klettres/ru "
        "pocketsphinx/librivox"
    ).split()
)
BY_NAME = {v.name: v for v in VOICES}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> pathlib.Path:
    return build_recorded_corpus(
        tmp_path_factory.mktemp("recorded") / "rec", speakers=TINY, max_utterances=3, jobs=1, progress=silent
    )


def flacs(corpus: pathlib.Path) -> dict[str, pathlib.Path]:
    return {p.name: p for p in corpus.glob("*/*/*/*.flac")}


def sources(corpus: pathlib.Path, name: str) -> list[str]:
    """The source files of a voice's utterances (its sources.tsv)."""
    voice = BY_NAME[name]
    lines = voice.sources_path(corpus).read_text().splitlines()[1:]
    return [line.split("\t")[1] for line in lines]


def test_layout_is_librispeech_and_read_unchanged(tiny):
    chapters = sorted(tiny.glob("*/*/*/"))
    assert len(chapters) == len(TINY)
    for chapter in chapters:
        subset, speaker = chapter.parent.parent.name, chapter.parent.name
        voice = next(v for v in VOICES if v.id == speaker)
        assert subset == voice.subset and chapter.name == f"{speaker}1"
        assert {p.stem for p in chapter.glob("*.flac")} == {
            f"{speaker}-{chapter.name}-{u:04d}" for u in range(3)
        }
    seen, unseen = read_librispeech(tiny / "seen"), read_librispeech(tiny / "unseen")
    assert len(seen) + len(unseen) == 3 * len(TINY)
    assert {u.meta["voice"] for u in unseen} == {n for n in TINY if n in UNSEEN}
    assert {u.meta["source"] for u in seen} == {"uqm-voice", "ktuberling-data", "klettres-data"}
    record = json.loads((tiny / "corpus.json").read_text())
    assert record["complete"] and record["counts"]["utterances"] == 3 * len(TINY)


def test_audio_is_16k_mono_flac_of_at_least_4_seconds(tiny):
    for path in flacs(tiny).values():
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.format, info.subtype) == (16000, 1, "FLAC", "PCM_16")
        audio, _ = sf.read(path, dtype="float32")
        assert MIN_SECONDS <= len(audio) / 16000 <= 12.0
        assert -4.5 < 20 * np.log10(np.abs(audio).max()) < -1.5


def test_speaker_tables_carry_source_licence_and_original_rate(tiny):
    rows = [line.split("\t") for line in (tiny / "speakers.tsv").read_text().splitlines()]
    header, rows = rows[0], {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert header[:2] == ["speaker", "subset"] and {"source", "folder", "language", "licence"} <= set(header)
    packages = {s.package: s for s in SOURCES.values()}
    for row in rows.values():
        assert row["licence"] == packages[row["source"]].licence
    by_voice = {r["voice"]: r for r in rows.values()}
    assert by_voice["uqm/commander"]["licence"] == "CC BY-NC-SA 2.5"
    assert by_voice["ktuberling/ru-a"]["licence"] == "GPL-2+"
    assert by_voice["uqm/commander"]["original_rate"] == "11025"
    assert by_voice["uqm/commander"]["folder"] == "commander,starbase"
    assert by_voice["pocketsphinx/librivox"]["original_rate"] == "16000"
    assert by_voice["ktuberling/ru-a"]["language"] == "ru"
    txt = read_speakers_txt(tiny / "SPEAKERS.TXT")
    assert {k: (v.sex, v.subset) for k, v in txt.items()} == {
        k: (r["gender"], r["subset"]) for k, r in rows.items()
    }
    assert speaker_metadata(tiny / "seen")[BY_NAME["ktuberling/ru-b"].id]["gender"] == "M"


def test_mixed_folders_are_split_as_declared(tiny):
    low, high = (set(sources(tiny, f"uqm/zoqfotpik-{p}")) for p in ("low", "high"))
    assert low and high and not low & high
    declared = {f"zoqfotpik/{n}" for n in BY_NAME["uqm/zoqfotpik-low"].include}
    assert low <= declared
    ru_a = BY_NAME["ktuberling/ru-a"].include
    assert all(
        any(fnmatch.fnmatchcase(f.split("/")[-1], p) for p in ru_a) for f in sources(tiny, "ktuberling/ru-a")
    )
    assert not any(
        any(fnmatch.fnmatchcase(f.split("/")[-1], p) for p in ru_a) for f in sources(tiny, "ktuberling/ru-b")
    )


@pytest.mark.parametrize(
    "folder, names",
    [
        ("uqm/zoqfotpik", ["uqm/zoqfotpik-low", "uqm/zoqfotpik-high"]),
        ("ktuberling/ca", ["ktuberling/ca-a", "ktuberling/ca-b"]),
        ("ktuberling/da", ["ktuberling/da-a", "ktuberling/da-b"]),
        ("ktuberling/fr", ["ktuberling/fr-a", "ktuberling/fr-b"]),
        ("ktuberling/ru", ["ktuberling/ru-a", "ktuberling/ru-b"]),
    ],
)
def test_the_voices_of_a_split_folder_share_no_file(folder, names):
    roots = _roots(None)
    files = [{f for f, _ in _voice_files(BY_NAME[n], roots[BY_NAME[n].source])} for n in names]
    assert all(files) and not set.intersection(*files)
    if folder.startswith("ktuberling/"):  # each word is someone's, declared dropped, or a copy
        directory = roots["ktuberling"] / folder.split("/")[1]
        used = {directory / f.split("/")[-1] for f in set.union(*files)}
        copies = {p.read_bytes() for p in used}
        for path in set(directory.iterdir()) - used:
            dropped = any(fnmatch.fnmatchcase(path.name, p) for n in names for p in BY_NAME[n].exclude)
            assert dropped or path.read_bytes() in copies, path


def test_every_package_folder_is_read_or_declared_skipped():
    """A folder no voice reads and no one has looked at would be a silent gap in the corpus."""
    roots = _roots(None)
    with zipfile.ZipFile(roots["uqm"] / SOURCES["uqm"].archive) as archive:
        found = {f"uqm/{n.split('/')[1]}" for n in archive.namelist() if n.endswith(".ogg")}
    audio = (".ogg", ".opus", ".wav", ".raw")
    for key in ("ktuberling", "klettres", "pocketsphinx"):
        for path in roots[key].rglob("*"):
            if path.suffix in audio:
                found.add(f"{key}/{path.parent.relative_to(roots[key])}")
    read = {f"{v.source}/{f}" for v in VOICES for f in v.folders}
    assert found - read == set(SKIPPED_FOLDERS)
    assert not read - found


def test_split_is_fixed_and_keeps_each_group_on_one_side():
    assert {v.name for v in VOICES if v.subset == "unseen"} == UNSEEN
    assert len({v.id for v in VOICES}) == len({v.name for v in VOICES}) == len(VOICES)
    subsets = {}
    for voice in VOICES:
        assert subsets.setdefault(voice.group, voice.subset) == voice.subset, voice.group
    groups = {v.group for v in VOICES}
    assert groups <= {v.id for v in VOICES}
    assert all(v.group == v.id for v in VOICES if v.subset == "unseen"), "an unseen voice shares a person"
    for source in SOURCES:  # every source trains and tests
        assert {v.subset for v in VOICES if v.source == source} == {"seen", "unseen"}


def test_same_arguments_give_identical_bytes_and_a_cap_gives_a_prefix(tiny, tmp_path):
    small = build_recorded_corpus(
        tmp_path / "a",
        speakers=["klettres/de-syllab", "ktuberling/ru-b"],
        max_utterances=2,
        jobs=2,
        progress=silent,
    )
    a, full = flacs(small), flacs(tiny)
    assert len(a) == 4 and all(a[n].read_bytes() == full[n].read_bytes() for n in a)
    other = build_recorded_corpus(
        tmp_path / "b", speakers=["klettres/de-syllab"], max_utterances=2, seed=1, progress=silent
    )
    assert all(p.read_bytes() != a[n].read_bytes() for n, p in flacs(other).items())


def test_a_complete_corpus_is_left_alone_and_a_partial_one_resumed(tmp_path):
    args = dict(speakers=["pocketsphinx/librivox", "klettres/de-syllab"], max_utterances=2, progress=silent)
    out = build_recorded_corpus(tmp_path / "rec", **args)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    build_recorded_corpus(out, **args)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    voice = BY_NAME["klettres/de-syllab"]
    gone = voice.chapter_dir(out) / f"{voice.id}-{voice.chapter}-0001.flac"
    data = gone.read_bytes()
    gone.unlink()
    build_recorded_corpus(out, **args)
    assert gone.read_bytes() == data
    with pytest.raises(FileExistsError, match="other arguments"):
        build_recorded_corpus(out, **{**args, "max_utterances": 3})


def test_a_missing_package_is_one_line_saying_how_to_install_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for package, voice in (("uqm-voice", "uqm/orz"), ("ktuberling-data", "ktuberling/nn")):
        with pytest.raises(MissingDependency) as info:
            build_recorded_corpus(tmp_path / "out", speakers=[voice], roots={package: empty}, progress=silent)
        message = str(info.value)
        assert "\n" not in message and package in message and "install_recorded.sh" in message
    assert not (tmp_path / "out").exists()


def test_unknown_voices_and_packages_are_refused():
    with pytest.raises(InputError, match=re.escape("unknown recorded voices ['uqm/nobody']")):
        build_recorded_corpus("unused", speakers=["uqm/nobody"])
    with pytest.raises(InputError, match="unknown packages"):
        build_recorded_corpus("unused", roots={"espeak-ng": "/tmp"})
