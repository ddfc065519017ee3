"""The report's recorded-voices section: every system, mixture and clean, raw and normalised, on a
split of recorded voices beside the report's own unseen split, both called ``unseen``; every
separator on mixtures of both; its JSONs; and a wrong folder refused in one line before anything
is scored."""

from __future__ import annotations

import functools
import json
import math
import re
import shutil

import numpy as np
import pytest
import torch

from mirnet.architectures import build_model
from mirnet.checkpoint import model_bundle, save_atomic
from mirnet.cli import main
from mirnet.corpus import open_corpus
from mirnet.corpus.recorded import build_recorded_corpus
from mirnet.eval import evaluate, protocol, report
from mirnet.eval.report import ReportPlan, cache
from mirnet.eval.report.cache import _EmbeddingMemo
from mirnet.progress import silent

from ..conftest import TINY_MODEL
from .test_report import FAST, save_separator

# five unseen readers of a few short words each: the quickest part of the corpus to build
VOICES = ["ktuberling/lt", "ktuberling/nn", "ktuberling/wa", "klettres/es", "klettres/hu"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = build_recorded_corpus(
        tmp_path_factory.mktemp("recorded") / "rec",
        speakers=VOICES,
        max_utterances=2,
        jobs=1,
        progress=silent,
    )
    return root / "unseen"


@pytest.fixture
def synthesized(corpus, tmp_path):
    """The test corpus's seen voices as the report's ``unseen`` split: a folder called as the
    recorded one, whose files must not collide with it."""
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "unseen").symlink_to(corpus / "seen")
    return tmp_path / "synth" / "unseen"


def embedder(corpus, path, seed):
    """An untrained embedder holding out three utterances per seen speaker, so it has both a
    held-out headline and a cohort of the rest."""
    seen = open_corpus(corpus / "seen")
    heldout = [u.id for s in seen.speakers for u in seen.by_speaker[s][:3]]
    torch.manual_seed(seed)
    model = build_model("single", speaker_net=TINY_MODEL["speaker_net"]).eval()
    return save_atomic(model_bundle(model, [], data={"heldout": heldout}), path / "model.pt").parent


def rows(text: str, heading: str) -> list[list[str]]:
    section = text.split(heading)[1].split("\n## ")[0].split("\n### ")[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[1:]]


def test_every_system_and_separator_on_the_recorded_split_beside_the_synthesized(
    corpus, recorded, synthesized, tmp_path, monkeypatch, one_thread
):
    monkeypatch.setattr(cache, "COHORT_MIXTURES", 8)
    # 50 bootstrap resamples, not 1000: the intervals' cost is the same for 3 trials as for 1000
    monkeypatch.setattr(evaluate, "summarize", functools.partial(protocol.summarize, n_boot=50))
    a, b = embedder(corpus, tmp_path / "a", 0), embedder(corpus, tmp_path / "b", 1)
    sep = save_separator(tmp_path / "sep" / "model.pt")
    out = tmp_path / "report"
    plan = ReportPlan(
        out=out,
        systems=[str(a), f"other={b}"],
        data=synthesized,
        seen=corpus / "seen",
        score_norm="asnorm",
        top_k=3,
        separators=[str(sep)],
        recorded=recorded,
        recorded_trials=3,
        **FAST,
    )
    report.write_report(plan)
    text = (out / "REPORT.md").read_text()

    assert "## Recorded voices (unseen)" in text
    assert "5 recorded speakers" in text and "the same 3 trials" in text
    assert "2 speakers at 0 dB, full overlap, 3 s" in text
    header = text.split("## Recorded voices (unseen)")[1].split("\n| ")[1].split("\n")[0]
    assert header.split(" | ")[2:] == ["mixture, raw", "mixture, AS-norm", "clean, raw", "clean, AS-norm |"]
    table = rows(text, "## Recorded voices (unseen)")
    assert [(r[0], r[1].split(",")[0]) for r in table] == [
        (label, voices)
        for label in ("a", "other")
        for voices in (f"`{synthesized}`", f"`{recorded}` (recorded)")
    ]
    for row in table:
        eers = [float(m) for m in re.findall(r"\*\*(-?[\d.]+)\*\*", " ".join(row[2:]))]
        assert len(eers) == 4 and all(0 <= e <= 100 for e in eers), row

    # the JSONs: the first system as the headline's, every figure in recorded.json
    summary = json.loads((out / "recorded.json").read_text())
    assert summary["recorded"] == str(recorded) and summary["score_norm"] == "asnorm"
    for label in ("a", "other"):
        for where, data in (("recorded", recorded), ("synthesized", synthesized)):
            for condition in ("mixture", "clean"):
                both = summary["systems"][label][where][condition]
                assert (
                    both["raw"]["score_norm"] is None and both["asnorm"]["score_norm"]["method"] == "asnorm"
                )
                for r in both.values():
                    assert r["data"] == str(data) and r["trials"] == 3 and math.isfinite(r["eer"])
                assert both["raw"]["trial_list"] == both["asnorm"]["trial_list"]
    for condition, name in (("mixture", "eval_recorded.json"), ("clean", "eval_recorded_clean.json")):
        assert (
            json.loads((out / name).read_text()) == summary["systems"]["a"]["recorded"][condition]["asnorm"]
        )
    lists = {summary["systems"]["a"][w]["mixture"]["raw"]["trial_list"] for w in ("recorded", "synthesized")}
    assert len(lists) == 2 and any("/recorded-unseen_n3_" in x for x in lists)  # named apart
    for trial_list in lists:
        meta = json.loads(open(trial_list).read())
        assert meta["meta"]["data"] in (str(recorded), str(synthesized))

    # the separator on the same mixtures of both splits
    sep_rows = rows(text, "### Separation of recorded voices (4 mixtures of each split)")
    assert [(r[0], r[2]) for r in sep_rows] == [
        ("sep", f"`{synthesized}`"),
        ("sep", f"`{recorded}` (recorded)"),
    ]
    assert all(re.fullmatch(r"-?[\d.]+ \[-?[\d.]+, -?[\d.]+\]", r[4]) for r in sep_rows)  # SI-SDRi
    assert f"mirnet eval-separation {sep} --data {recorded} --n 4" in text
    assert summary["separation"]["sep"]["recorded"]["settings"]["data"] == str(recorded)
    # the raw rows' commands, and the recorded trial lists, among the report's
    assert f"--data {recorded} --trials 3" in text.split("## Commands")[1]
    assert "| recorded-unseen_n3_" in text.split("## Trial lists")[1]

    # a second report scores nothing again
    monkeypatch.setattr(cache, "evaluate", lambda *a, **kw: pytest.fail("scored again"))
    monkeypatch.setattr(cache, "evaluate_separation", lambda *a, **kw: pytest.fail("separated again"))
    report.write_report(plan)
    assert rows((out / "REPORT.md").read_text(), "## Recorded voices (unseen)") == table


def test_the_embedding_memo_embeds_each_batch_once_within_its_budget():
    calls = []
    memo = _EmbeddingMemo(budget=2 * 3 * 4 * 4)  # two results of (3, 1, 4) float32

    def embed(wavs):
        calls.append(wavs.shape[0])
        return wavs[:, None, :4] * 2

    remembered = memo.wrap("sys", embed)
    batch, other = torch.arange(24.0).reshape(3, 8), torch.ones(3, 8)
    np.testing.assert_array_equal(remembered(batch), embed(batch))
    assert remembered(batch.clone()).equal(batch[:, None, :4] * 2) and len(calls) == 2  # one in the memo
    remembered(other), remembered(other + 1)  # the budget: the oldest, batch, dropped
    remembered(batch)
    assert len(calls) == 5 and memo.used <= memo.budget
    assert memo.wrap("another system", embed)(other) is not None and len(calls) == 6


@pytest.mark.parametrize(
    "where, message",
    [
        ("{tmp}/nowhere", "--recorded {tmp}/nowhere: not a directory"),
        ("{rec}", "--recorded {rec}: a whole corpus (unseen/), not one split; give {rec}/unseen"),
        ("{data}", "the report's --data itself"),
        ("{few}", "3 speakers with two or more utterances; 2-speaker trials need at least 4"),
    ],
)
def test_a_wrong_recorded_folder_gets_one_line_before_anything_is_scored(
    where, message, corpus, recorded, tmp_path, capsys
):
    few = tmp_path / "few"
    few.mkdir()
    for speaker in sorted(recorded.iterdir())[:3]:
        shutil.copytree(speaker, few / speaker.name)
    fill = dict(tmp=tmp_path, rec=recorded.parent, data=corpus / "seen", few=few)
    sep = save_separator(tmp_path / "sep" / "model.pt")
    argv = ["-q", "report", "resemblyzer", "--data", str(corpus / "seen"), "--out", str(tmp_path / "out")]
    assert main([*argv, "--separator-systems", str(sep), "--recorded", where.format(**fill)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mirnet: error: ") and message.format(**fill) in err and err.count("\n") == 1, err
    assert not (tmp_path / "out" / "evals").exists()
    assert main([*argv, "--recorded-trials", "3"]) == 2
    assert (
        "--recorded-trials: the trials of the --recorded section; give --recorded too"
        in capsys.readouterr().err
    )
