"""VoxCeleb1 layout -> manifest, and the official trial list checked against it and written beside it."""

from __future__ import annotations

import json

import pytest

from mirnet.corpus import open_corpus
from mirnet.corpus.voxceleb import prepare_voxceleb, trials_path


def test_manifest_and_trials_beside_it(voxceleb_root, tmp_path):
    out = tmp_path / "vox1.jsonl"
    done = prepare_voxceleb(voxceleb_root, out, trials=[voxceleb_root.parent / "veri_test2.txt"], jobs=2)
    m = open_corpus(out)
    assert m.speakers == ["id10270", "id10271"] and (done.items, done.skipped) == (3, 0)
    assert {u.id: u.meta["video"] for u in m}["id10270/8jEAjG6SegY/00008"] == "8jEAjG6SegY"
    written = trials_path(out, "veri_test2.txt")
    assert written == tmp_path / "vox1.veri_test2.jsonl" and f"{written}: 2 trials" in str(done)
    trials = [json.loads(line) for line in written.read_text().splitlines()]
    assert trials == [
        {"label": 1, "enroll": "id10270/x6uYqmx31kE/00001", "test": "id10270/8jEAjG6SegY/00008"},
        {"label": 0, "enroll": "id10270/x6uYqmx31kE/00001", "test": "id10271/1gtz-CUIygI/00001"},
    ]
    assert {t[k] for t in trials for k in ("enroll", "test")} <= {u.id for u in m}


@pytest.mark.parametrize(
    "line, error, message",
    [
        (
            "1 id10270/x6uYqmx31kE/00001.wav id10270/gone/00002.wav",
            FileNotFoundError,
            r"veri_test2.txt:3: .*id10270/gone/00002.wav is not in the manifest \(missing or unreadable\)",
        ),
        ("yes id10270/x6uYqmx31kE/00001.wav", ValueError, r"veri_test2.txt:3: expected 'label path1 path2'"),
    ],
)
def test_a_bad_trial_line_is_an_error_naming_it_and_nothing_is_written(
    voxceleb_root, tmp_path, line, error, message
):
    trials = voxceleb_root.parent / "veri_test2.txt"
    trials.write_text(trials.read_text() + line + "\n")
    out = tmp_path / "vox1.jsonl"
    with pytest.raises(error, match=message):
        prepare_voxceleb(voxceleb_root, out, trials=[trials])
    assert not out.exists() and not trials_path(out, trials).exists()
