"""WSJ0-2mix and Libri2Mix layouts -> mixture manifests: sources, speakers, SNRs, splits."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirnet.corpus import Mixture, load_mixtures
from mirnet.corpus.manifest import write_jsonl
from mirnet.corpus.mixtures import prepare_libri2mix, prepare_wsj0_2mix

from .conftest import write_csv


def test_wsj0_2mix_speakers_and_snrs_from_the_names(wsj_root, tmp_path):
    done = prepare_wsj0_2mix(wsj_root, tmp_path / "wsj.jsonl", jobs=2)
    mixes = {m.id: m for m in load_mixtures(done.out)}
    assert sorted(mixes) == [
        "tr/01aa010b_0.97482_209a010p_-0.97482",
        "tr/40na010x_1.4047_02cc0201_-1.4047",
        "tt/050a050a_2.0_22ga010b_-2.0",
    ]
    m = mixes["tr/01aa010b_0.97482_209a010p_-0.97482"]
    assert m.speakers == ("01a", "209") and m.snr_db == (0.97482, -0.97482) and m.meta == {"split": "tr"}
    assert [Path(s).parent.name for s in m.sources] == ["s1", "s2"] and all(
        Path(s).is_file() for s in m.sources
    )
    assert (m.sample_rate, m.num_samples, m.duration) == (8000, 4000, 0.5)
    assert done.speakers == 6 and "3 mixtures" in str(done)


def test_libri2mix_rerooted_paths_and_snrs_from_metrics(libri2mix_root, tmp_path):
    done = prepare_libri2mix(libri2mix_root, tmp_path / "l2m.jsonl", jobs=2)
    mixes = {m.id: m for m in load_mixtures(done.out)}
    m = mixes["train-100/1034-121119-0049_1040-133433-0157"]
    assert m.speakers == ("1034", "1040") and m.snr_db == (1.5, -1.5) and m.meta == {"split": "train-100"}
    assert all(Path(p).is_file() and str(libri2mix_root.resolve()) in p for p in (m.path, *m.sources))
    assert mixes["dev/1272-128104-0000_2035-147961-0014"].snr_db is None  # dev has no metrics CSV here
    assert (m.sample_rate, m.duration) == (16000, 0.5)


def test_mixture_round_trip(tmp_path):
    m = Mixture(
        "tt/a_0_b_0", "/m.wav", ("/s1.wav", "/s2.wav"), ("a", "b"), 8000, 8000, (0.0, -0.0), {"split": "tt"}
    )
    assert load_mixtures(write_jsonl(tmp_path / "m.jsonl", [m.to_dict()])) == [m]


@pytest.mark.parametrize(
    "header, message",
    [
        (["mixture_ID", "mixture_path", "length"], "no column source_1_path"),
        (["mixture_ID", "source_1_path", "source_2_path"], "no column mixture_path"),
    ],
)
def test_libri2mix_metadata_without_a_needed_column(libri2mix_root, tmp_path, header, message):
    write_csv(libri2mix_root / "Libri2Mix/wav16k/min/metadata/mixture_dev_mix_clean.csv", header, [])
    with pytest.raises(ValueError, match=f"mixture_dev_mix_clean.csv: {message}"):
        prepare_libri2mix(libri2mix_root, tmp_path / "l2m.jsonl", splits=["dev"])


def test_a_misnamed_wsj_mixture_is_an_error_naming_it(wsj_root, tmp_path):
    bad = wsj_root / "wav8k/min/tt/mix/stray.wav"
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match="stray.wav: not a WSJ0-mix name"):
        prepare_wsj0_2mix(wsj_root, tmp_path / "wsj.jsonl")
