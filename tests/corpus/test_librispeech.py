"""The LibriSpeech reader on a LibriSpeech-layout tree, and the manifest round trip."""
from __future__ import annotations

import shutil

import pytest

from mirnet.corpus import Manifest, open_corpus, read_librispeech


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
    assert all(u.id.startswith(u.speaker + "-") and u.sample_rate == 16000 and 3 <= u.duration <= 6 for u in m)
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
