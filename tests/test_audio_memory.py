"""What a file costs to read (issue 36): a small upload that claims many channels at a high rate
is refused from its header, and a long multichannel file is decoded in blocks, so that memory is
the 16-kHz mono result and a constant, not the file decoded whole."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import mirnet.audio
from mirnet.audio import SAMPLE_RATE, AudioError
from mirnet.cli import main

from .conftest import REPO

REASON = "8 channels at 384000 Hz: 3072000 samples per second to decode, the limit is 1536000"


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """The FLAC of issue 36, shorter: 8 channels at 384 kHz of a constant compress about 1000:1
    (360 s made a 1.2-MB file that took a server from 1.2 to 6 GB of memory as it decoded it)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.flac"
    with sf.SoundFile(path, "w", 384000, 8, "PCM_16", format="FLAC") as f:
        for _ in range(2):
            f.write(np.full((384000, 8), 0.25, np.float32))
    return path


def test_a_decoding_bomb_is_refused_from_its_header_before_any_decoding(bomb, monkeypatch):
    def decoding(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(sf.SoundFile, "read", decoding)
    for read in ("load_audio", "audio_info", "read_header"):
        with pytest.raises(AudioError) as err:
            getattr(mirnet.audio, read)(bomb)
        assert str(err.value) == f"{bomb}: {REASON}"


def test_embed_refuses_the_bomb_in_one_line(bomb, capsys):
    assert main(["embed", str(REPO / "models" / "mirnet"), str(bomb)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"mirnet: error: {bomb}: {REASON}"


# the peak of this process's own memory (VmHWM); not getrusage's ru_maxrss, which Linux carries
# over from the parent through fork and exec, so that it starts at pytest's size, torch included
MEASURE = """
import sys
import numpy as np
from mirnet.audio import load_audio, resample

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

resample(np.ones(4800, np.float32), 1, 3)  # scipy imported and the filter designed beforehand
before = status("VmRSS")
wav = load_audio(sys.argv[1])
print(status("VmHWM") - before, len(wav), float(np.sqrt(np.mean(np.square(wav)))))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's /proc/self/status")
def test_a_long_multichannel_file_is_decoded_in_bounded_memory(tmp_path):
    """300 s of 8 channels at 48 kHz: 461 MB decoded whole as float32 (reading it at once, the
    peak grew by 557 MB), 19 MB at 16 kHz mono; read in blocks the peak grows by 48 MB."""
    path = tmp_path / "long.wav"
    second = (0.1 * np.random.default_rng(0).standard_normal((48000, 8)) * 32767).astype(np.int16)
    with sf.SoundFile(path, "w", 48000, 8, "PCM_16") as f:
        for _ in range(300):
            f.write(second)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], env=env, capture_output=True, text=True, check=True
    )
    growth, samples, rms = out.stdout.split()
    result = 300 * SAMPLE_RATE * 4
    assert int(samples) == 300 * SAMPLE_RATE and float(rms) > 0.01
    assert int(growth) < 3 * result + 64 * 2**20, f"peak RSS grew by {int(growth) / 1e6:.0f} MB"
