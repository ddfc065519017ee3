"""Every writer goes through ``atomic_path``: an interrupted write keeps the previous file
byte for byte and leaves no temporary file, whichever library was writing; a writer killed
mid-write leaves one, which the next save of that file removes, and only then: a live writer's
temporary is kept."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from mirnet import atomic
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


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped): not alive on this host."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return int(done.stdout)


def test_a_writer_killed_mid_write_leaves_a_temporary_the_next_save_removes(tmp_path):
    path = write_text(tmp_path / "checkpoint.pt", "old\n")
    killed = "import os, signal, sys\nfrom mirnet.atomic import atomic_path\n"
    killed += "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_text('half')\n"
    killed += "    os.kill(os.getpid(), signal.SIGKILL)\n"
    assert subprocess.run([sys.executable, "-c", killed, str(path)]).returncode == -9
    left = [p.name for p in tmp_path.iterdir() if p != path]
    assert len(left) == 1 and left[0].startswith(".checkpoint.pt.") and ".tmp" in left[0]
    assert path.read_text() == "old\n"
    write_text(path, "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"] and path.read_text() == "new\n"


def test_only_temporaries_of_dead_writers_of_this_host_and_this_file_are_removed(tmp_path):
    target, dead = tmp_path / "report.md", _dead_pid()
    with subprocess.Popen(["sleep", "600"]) as live:
        try:
            names = {
                "dead": atomic.temporary_name(target, dead),
                "dead, before hosts were named": tmp_path / f".report.md.tmp{dead}",
                "live": atomic.temporary_name(target, live.pid),
                "live, before hosts were named": tmp_path / f".report.md.tmp{live.pid}",
                "dead, of another host": tmp_path / f".report.md.not-{atomic._host()}.tmp{dead}",
                "dead, of another file": atomic.temporary_name(tmp_path / "other.md", dead),
            }
            for p in names.values():
                p.write_text("left over")
            write_text(target, "new\n")
        finally:
            live.kill()
    kept = {k for k, p in names.items() if p.exists()}
    assert kept == {"live", "live, before hosts were named", "dead, of another host", "dead, of another file"}
    assert target.read_text() == "new\n"
