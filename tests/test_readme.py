"""The README's Quickstart, run as it stands: its shell block line by line and then its Python
block, in an empty folder outside the checkout, with this environment's ``mirnet`` on the PATH.
The blocks are read from the README, not copied here, so the test follows every edit of it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


def quickstart() -> tuple[str, str]:
    """The Quickstart section's bash block and python block."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    blocks = dict(re.findall(r"```(bash|python)\n(.*?)```", section, re.S))
    assert set(blocks) == {"bash", "python"}, "the Quickstart holds one bash and one python block"
    return blocks["bash"], blocks["python"]


def test_the_quickstart_reads_every_input_it_makes():
    """Every file a line reads is made by a line before it (or is a shipped model's name)."""
    bash, _ = quickstart()
    made: set[str] = set()
    for line in bash.splitlines():
        words = line.split("#")[0].split()
        if not words:
            continue
        paths = [w for w in words[2:] if not w.startswith("-")]
        if words[1] == "corpus":  # it makes files (and reads the folders an earlier line made)
            made.update(paths)
            if words[2] == "mix":
                made.update(paths[2].replace(".wav", f".source{k}.wav") for k in (1, 2))
            continue
        for word in paths:
            if re.fullmatch(r"[\w./-]+\.(wav|flac)", word):
                assert any(word == m or word.startswith(m.rstrip("/") + "/") for m in made), (word, line)


@pytest.mark.slow
def test_the_quickstart_runs_top_to_bottom(tmp_path):
    bash, python = quickstart()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for line in bash.splitlines():
        if not line.split("#")[0].strip():
            continue
        r = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, f"{line}\n{r.stderr[-2000:]}"
    assert (tmp_path / "meeting.rttm").read_text().count("SPEAKER") >= 3
    assert len(list((tmp_path / "sep").glob("mix.speaker*.wav"))) == 2
    r = subprocess.run([sys.executable, "-c", python], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
