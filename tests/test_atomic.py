"""Every writer goes through ``atomic_path``: an interrupted write keeps the previous file
byte for byte and leaves no temporary file, whichever library was writing."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from mirnet.atomic import atomic_path, write_text
from mirnet.audio import save_audio
from mirnet.corpus.manifest import write_jsonl


def test_a_failed_write_keeps_the_previous_file_and_no_temporary(tmp_path):
    path = write_text(tmp_path / "sub" / "report.md", "old\n")
    with pytest.raises(KeyError), atomic_path(path) as tmp:
        tmp.write_text("half of the new")
        raise KeyError("interrupted")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.md"]


def test_a_generator_that_fails_midway_leaves_the_manifest_whole(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [{"id": 1}, {"id": 2}])

    def rows():
        yield {"id": 3}
        raise RuntimeError("reader died")

    with pytest.raises(RuntimeError):
        write_jsonl(path, rows())
    assert path.read_text() == '{"id": 1}\n{"id": 2}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]


def test_audio_keeps_its_format_though_written_under_a_temporary_name(tmp_path):
    wav = np.sin(np.linspace(0, 200, 16000)).astype(np.float32) * 0.5
    for name, fmt in (("a.flac", "FLAC"), ("a.wav", "WAV")):
        path = save_audio(tmp_path / name, wav)
        assert sf.info(str(path)).format == fmt
        np.testing.assert_allclose(sf.read(str(path), dtype="float32")[0], wav, atol=1 / 2**15)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac", "a.wav"]
