"""Band-limited copies: nothing above half the rate, the rest of the band kept, the same layout,
ids and speaker metadata, resumable, refused in one line where it cannot be made."""

from __future__ import annotations

import numpy as np
import pytest

from mirnet.audio import SAMPLE_RATE, load_audio
from mirnet.cli import main
from mirnet.corpus import open_corpus
from mirnet.corpus.bandlimit import band_limit


def _band_energy(wav: np.ndarray, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(wav)) ** 2
    freqs = np.fft.rfftfreq(len(wav), 1 / SAMPLE_RATE)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def test_band_limit_removes_the_top_band_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    out = band_limit(noise, 8000)
    assert out.shape == noise.shape and out.dtype == np.float32
    assert _band_energy(out, 4300, 8000) < 1e-3 * _band_energy(noise, 4300, 8000)
    assert _band_energy(out, 300, 3400) == pytest.approx(_band_energy(noise, 300, 3400), rel=0.02)


def test_a_split_copied_band_limited_keeps_speakers_ids_and_metadata(corpus, tmp_path, capsys):
    out = tmp_path / "unseen_8k"
    assert main(["-q", "corpus", "bandlimit", str(corpus / "unseen"), str(out)]) == 0
    original, copy = open_corpus(corpus / "unseen"), open_corpus(out)
    assert sorted(original.index) == sorted(copy.index) and copy.speakers == original.speakers
    assert [copy.index[u].meta for u in sorted(copy.index)] == [
        original.index[u].meta for u in sorted(copy.index)
    ]
    first = sorted(original.index)[0]
    assert copy.index[first].meta.get("gender")  # the parent's speaker table came along
    a, b = load_audio(original.index[first].path), load_audio(copy.index[first].path)
    assert len(a) == len(b) and _band_energy(b, 4300, 8000) < 0.01 * _band_energy(a, 4300, 8000)
    # resumable: a second run writes nothing again
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.flac")}
    assert main(["-q", "corpus", "bandlimit", str(corpus / "unseen"), str(out)]) == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.flac")} == mtimes
    capsys.readouterr()
    assert main(["-q", "corpus", "bandlimit", str(corpus / "unseen"), str(out), "--rate", "11025"]) == 2
    assert "made with" in capsys.readouterr().err
    assert (
        main(["-q", "corpus", "bandlimit", str(corpus / "unseen"), str(tmp_path / "x"), "--rate", "16000"])
        == 2
    )
    assert "--rate: expected 4000 to 15999 Hz, got 16000" in capsys.readouterr().err
