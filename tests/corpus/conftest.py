"""Tiny trees in the exact layouts of the real corpora (0.5-s tones), for ``mirnet prepare``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SPEAKERS_TXT = """\
; Some speakers have also been used in other corpora, but the same audio is not repeated.
;
;ID  |SEX| SUBSET           |MINUTES| NAME
14   | F | train-clean-360  | 25.03 | Kristin LeMoine
60   | M | train-clean-100  | 20.18 | |CBW|Simon
1272 | M | dev-clean        |  8.08 | John Rose
"""
LIBRI_FILES = {
    "train-clean-100": ["60/121082/60-121082-0000", "60/121082/60-121082-0001"],
    "train-clean-360": ["14/208/14-208-0000", "14/212/14-212-0005"],
    "dev-clean": ["1272/128104/1272-128104-0000", "1272/135031/1272-135031-0009"],
}
VOX_FILES = ["id10270/x6uYqmx31kE/00001", "id10270/8jEAjG6SegY/00008", "id10271/1gtz-CUIygI/00001"]
VERI_TEST2 = """\
1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav
0 id10270/x6uYqmx31kE/00001.wav id10271/1gtz-CUIygI/00001.wav
"""
WSJ_NAMES = {
    "tr": ["01aa010b_0.97482_209a010p_-0.97482", "40na010x_1.4047_02cc0201_-1.4047"],
    "tt": ["050a050a_2.0_22ga010b_-2.0"],
}
LIBRI2MIX_IDS = {
    "train-100": ["103-1240-0003_1235-135887-0017", "1034-121119-0049_1040-133433-0157"],
    "dev": ["1272-128104-0000_2035-147961-0014"],
}


def tone(path: Path, seconds: float = 0.5, rate: int = 16000, freq: float = 220.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * rate)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), rate)
    return path


@pytest.fixture
def librispeech_root(tmp_path) -> Path:
    """ROOT/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac and ROOT/SPEAKERS.TXT."""
    root = tmp_path / "LibriSpeech"
    for subset, stems in LIBRI_FILES.items():
        for i, stem in enumerate(stems):
            tone(root / subset / f"{stem}.flac", 0.5 + 0.25 * i)
    (root / "SPEAKERS.TXT").write_text(SPEAKERS_TXT)
    return root


@pytest.fixture
def voxceleb_root(tmp_path) -> Path:
    """ROOT/<id>/<video>/<utt>.wav and veri_test2.txt beside ROOT."""
    root = tmp_path / "vox1" / "wav"
    for stem in VOX_FILES:
        tone(root / f"{stem}.wav")
    (root.parent / "veri_test2.txt").write_text(VERI_TEST2)
    return root


@pytest.fixture
def wsj_root(tmp_path) -> Path:
    """ROOT/wav8k/min/<split>/{mix,s1,s2}/<utt1>_<snr1>_<utt2>_<snr2>.wav at 8 kHz."""
    root = tmp_path / "wsj0-mix" / "2speakers"
    for split, names in WSJ_NAMES.items():
        for name in names:
            for folder in ("mix", "s1", "s2"):
                tone(root / "wav8k" / "min" / split / folder / f"{name}.wav", rate=8000)
    return root


@pytest.fixture
def libri2mix_root(tmp_path) -> Path:
    """ROOT/Libri2Mix/wav16k/min/<split>/{mix_clean,s1,s2}/ and metadata/ CSVs naming the paths
    of the machine that generated them; SNRs (metrics CSV) for train-100 only."""
    root = tmp_path / "librimix"
    base = root / "Libri2Mix" / "wav16k" / "min"
    generated = "/gen/storage/Libri2Mix/wav16k/min"
    for split, ids in LIBRI2MIX_IDS.items():
        rows = []
        for mix_id in ids:
            for folder in ("mix_clean", "s1", "s2"):
                tone(base / split / folder / f"{mix_id}.wav")
            rows.append(
                [mix_id, *(f"{generated}/{split}/{d}/{mix_id}.wav" for d in ("mix_clean", "s1", "s2")), 8000]
            )
        write_csv(
            base / "metadata" / f"mixture_{split}_mix_clean.csv",
            ["mixture_ID", "mixture_path", "source_1_path", "source_2_path", "length"],
            rows,
        )
    write_csv(
        base / "metadata" / "metrics_train-100_mix_clean.csv",
        ["mixture_ID", "source_1_SNR", "source_2_SNR"],
        [[mix_id, 1.5, -1.5] for mix_id in LIBRI2MIX_IDS["train-100"]],
    )
    return root


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
