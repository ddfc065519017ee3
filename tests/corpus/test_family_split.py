"""The cross-engine split (`mirnet corpus split`): a family of voices leaves training with every
copy of it, and comes back as its own test set beside the remaining unseen voices."""

from __future__ import annotations

import json

from mirnet.cli import main
from mirnet.corpus import open_corpus
from mirnet.corpus.manifest import Manifest, Utterance


def _copies(seen: Manifest, path) -> Manifest:
    """One derived voice per seen speaker, as `mirnet corpus transform` writes them (same audio here)."""
    rows = [
        Utterance(
            f"{u.speaker}w1-{u.id}",
            f"{u.speaker}w1",
            u.path,
            u.num_samples,
            u.sample_rate,
            {"derived_from": u.id},
        )
        for u in seen
    ]
    Manifest(rows).save(path)
    return path


def test_a_family_leaves_training_with_its_copies_and_is_scored_apart(corpus, tmp_path, capsys):
    copies = _copies(open_corpus(corpus / "seen"), tmp_path / "copies.jsonl")
    out = tmp_path / "split"
    args = [
        "corpus",
        "split",
        "--train",
        str(corpus / "seen"),
        str(copies),
        "--unseen",
        str(corpus / "unseen"),
    ]
    assert main([*args, "--hold-out", "language=en-us,de", "--out", str(out)]) == 0
    train, family, unseen = (open_corpus(out / f"{k}.jsonl") for k in ("train", "family", "unseen"))
    # de1 (1018) and us3 (1077) are seen, us1/us2 (1075/1076) unseen; their copies go too
    assert family.speakers == ["1018", "1075", "1076", "1077"]
    assert train.speakers == ["1003", "1003w1", "1027", "1027w1", "1032", "1032w1"]
    assert unseen.speakers == ["1000"]
    summary = json.loads((out / "split.json").read_text())
    assert summary["hold_out"] == "language=en-us,de" and summary["family"]["utterances"] == len(family) == 24


def test_a_rule_no_voice_or_every_voice_matches_is_refused_in_one_line(corpus, tmp_path, capsys):
    args = ["-q", "corpus", "split", "--train", str(corpus / "seen"), "--unseen", str(corpus / "unseen")]
    assert main([*args, "--hold-out", "language=xx", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--hold-out language=xx: no voice has it; language takes de, en, en-uk, en-us, fr-fr" in err
    assert "\n" not in err
    assert main([*args, "--hold-out", "engine=flite,mbrola", "--out", str(tmp_path)]) == 2
    assert "it takes every voice of the train corpus" in capsys.readouterr().err
    assert main([*args, "--hold-out", "language", "--out", str(tmp_path)]) == 2
    assert "expected KEY=VALUE[,VALUE...]" in capsys.readouterr().err
