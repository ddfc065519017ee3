"""The LibriSpeech reader on a LibriSpeech-layout tree, the manifest round trip, and
``prepare_librispeech`` on a tree in real LibriSpeech's layout (subsets, SPEAKERS.TXT)."""

from __future__ import annotations

import json
import shutil

import pytest

from mirnet.corpus import Manifest, open_corpus, read_librispeech
from mirnet.corpus.librispeech import SpeakerInfo, prepare_librispeech, read_speakers_txt
from mirnet.corpus.prepare import partial_path


@pytest.fixture
def three_speakers(corpus, tmp_path):
    """A real LibriSpeech-style subset: 3 speakers copied from the test corpus, plus noise files."""
    root = tmp_path / "LibriSpeech" / "dev-clean"
    speakers = sorted(p.name for p in (corpus / "seen").iterdir())[:3]
    for spk in speakers:
        shutil.copytree(corpus / "seen" / spk, root / spk)
    (root / "README.TXT").write_text("not audio")
    (root / speakers[0] / "stray.flac").write_bytes(b"")  # wrong name and place: ignored
    return root, speakers


def test_three_speakers_round_trip(three_speakers, tmp_path):
    root, speakers = three_speakers
    m = read_librispeech(root.parent)
    assert m.speakers == speakers and all(len(v) == 6 for v in m.by_speaker.values())
    assert all(
        u.id.startswith(u.speaker + "-") and u.sample_rate == 16000 and 3 <= u.duration <= 6 for u in m
    )
    path = m.save(tmp_path / "m.jsonl")
    back = open_corpus(path)
    assert back.utterances == m.utterances and back.fingerprint() == m.fingerprint()


def test_corrupt_file_is_skipped_with_a_warning_naming_it(three_speakers, caplog):
    root, speakers = three_speakers
    chapter = next((root / speakers[1]).iterdir())
    bad = chapter / f"{speakers[1]}-{chapter.name}-9999.flac"
    bad.write_bytes(b"garbage" * 50)
    m = read_librispeech(root)
    assert len(m) == 18 and str(bad) in caplog.text


def test_a_list_of_trees_reads_as_one_corpus_and_refuses_shared_speakers(librispeech_root):
    parts = [librispeech_root / subset for subset in ("train-clean-100", "train-clean-360")]
    joined = open_corpus(parts)
    assert joined.speakers == ["14", "60"] and len(joined) == 4
    assert (
        joined.utterances == Manifest([*read_librispeech(parts[0]), *read_librispeech(parts[1])]).utterances
    )
    with pytest.raises(ValueError, match="speaker 60 is in both .*train-clean-100 and .*train-clean-100"):
        open_corpus([parts[0], parts[0]])


def test_filter_drops_short_and_single_utterance_speakers(three_speakers):
    m = read_librispeech(three_speakers[0])
    assert len(m.filter(min_seconds=100)) == 0
    one = Manifest(m.utterances[:7])
    assert one.filter(min_utterances=2).speakers == [m.speakers[0]]


def test_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        read_librispeech(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no LibriSpeech-layout audio"):
        read_librispeech(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        Manifest.load(bad)


def test_speakers_txt_in_librispeech_format(librispeech_root, tmp_path):
    speakers = read_speakers_txt(librispeech_root / "SPEAKERS.TXT")
    assert speakers["60"] == SpeakerInfo("M", "train-clean-100", 20.18, "|CBW|Simon")  # bars inside the name
    assert sorted(speakers) == ["1272", "14", "60"] and speakers["14"].sex == "F"
    bad = tmp_path / "SPEAKERS.TXT"
    bad.write_text(";ID |SEX| SUBSET |MINUTES| NAME\n14 | F | train-clean-360\n")
    with pytest.raises(ValueError, match=r"SPEAKERS.TXT:2: expected 'ID \| SEX"):
        read_speakers_txt(bad)


def test_prepare_tags_subset_and_gender_and_filters_to_training_subsets(librispeech_root, tmp_path):
    out = tmp_path / "train.jsonl"
    done = prepare_librispeech(librispeech_root, out, subsets=["train-clean-100", "train-clean-360"], jobs=2)
    assert (done.items, done.speakers, done.skipped) == (4, 2, 0) and not partial_path(out).exists()
    m = open_corpus(out)  # what training reads (data.train)
    assert m.speakers == ["14", "60"]
    assert {u.speaker: (u.meta["gender"], u.meta["subset"]) for u in m} == {
        "14": ("F", "train-clean-360"),
        "60": ("M", "train-clean-100"),
    }
    assert sorted(u.duration for u in m) == [0.5, 0.5, 0.75, 0.75]
    first = json.loads(out.read_text().splitlines()[0])
    assert first["duration"] == first["num_samples"] / first["sample_rate"]
    assert m.filter(subsets=["train-clean-100"]).speakers == ["60"]

    every = open_corpus(
        prepare_librispeech(librispeech_root, tmp_path / "all.jsonl").out
    )  # default: every subset
    assert every.speakers == ["1272", "14", "60"]
    assert every.filter(subsets=["train-clean-100", "train-clean-360"]).utterances == m.utterances


def test_manifest_lines_without_duration_or_meta_still_load(tmp_path):
    old = tmp_path / "old.jsonl"
    old.write_text(
        '{"id": "a-1-1", "speaker": "a", "path": "/x.flac", "num_samples": 8000, "sample_rate": 16000}\n'
    )
    (u,) = Manifest.load(old)
    assert u.meta == {} and u.duration == 0.5 and "meta" not in u.to_dict()


def test_prepare_names_a_missing_subset_or_speaker_table(librispeech_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="train-other-500: no LibriSpeech-layout audio"):
        prepare_librispeech(librispeech_root, tmp_path / "m.jsonl", subsets=["train-other-500"])
    (librispeech_root / "SPEAKERS.TXT").unlink()
    with pytest.raises(FileNotFoundError, match="SPEAKERS.TXT: no such file"):
        prepare_librispeech(librispeech_root, tmp_path / "m.jsonl")


def test_speaker_metadata_comes_from_the_table_beside_the_tree(corpus, three_speakers, tmp_path):
    m = read_librispeech(corpus / "seen")  # the default corpus: speakers.tsv in the parent folder
    tsv = [r.split("\t") for r in (corpus / "speakers.tsv").read_text().splitlines()]
    header, rows = tsv[0], {r[0]: dict(zip(tsv[0], r)) for r in tsv[1:]}
    for u in m:
        row = rows[u.speaker]
        assert u.meta == {k: row[k] for k in header if k not in ("speaker", "utterances", "minutes")}
    root, speakers = three_speakers  # no table: no metadata
    assert all(u.meta == {} for u in read_librispeech(root))
    (root.parent / "SPEAKERS.TXT").write_text(
        f";ID|SEX|SUBSET|MINUTES|NAME\n{speakers[0]} | F | dev-clean | 1.0 | A\n"
    )
    m = read_librispeech(root)
    assert {u.speaker: u.meta for u in m}[speakers[0]] == {"gender": "F", "subset": "dev-clean"}
    assert {u.speaker: u.meta for u in m}[speakers[1]] == {}  # not in the table: unknown
    (root / "speakers.tsv").write_text("speaker\tgender\n1\tF\tx\n")
    with pytest.raises(ValueError, match=r"speakers.tsv:2: 3 columns, the header has 2"):
        read_librispeech(root)
