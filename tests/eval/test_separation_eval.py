"""`mirnet eval-separation`: an oracle separator is scored at the improvement its mixtures allow
whatever order it returns them in, the same seed draws the same mixtures for every separator,
prepared WSJ0-2mix and Libri2Mix lists are read (and resampled), and every user mistake is one
line with exit status 2."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from mirnet.api import Separator
from mirnet.architectures import build_model
from mirnet.audio import AudioError
from mirnet.checkpoint import conditioner_spec, model_bundle, save_atomic
from mirnet.cli import main
from mirnet.corpus import PREPARERS, load_mixtures, open_corpus
from mirnet.errors import CorpusError, InputError
from mirnet.eval import separation
from mirnet.eval.separation import evaluate_separation
from mirnet.eval.setting import MixtureSetting
from mirnet.progress import silent

from ..conftest import TINY_MODEL
from ..corpus.conftest import libri2mix_root, wsj_root  # noqa: F401 (fixtures)

UPIT = {"n_outputs": 2, "lstm_hidden": 16, "lstm_layers": 1, "fc_dim": 16}
FAST = dict(pesq_stoi=False, progress=silent)


def drawn(data, **kw) -> MixtureSetting:
    """Three 1-s mixtures: enough to check what is scored, fast."""
    return MixtureSetting(data, **{"n": 3, "crop_seconds": 1.0, **kw})


COLUMNS = ["mixture", "speakers", "sir_db", "seconds", "sdr", "sdri", "si_sdr", "si_sdri"]


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def save_separator(path, args=UPIT, **bundle):
    torch.manual_seed(0)
    model = build_model("mask_separator", **args)
    return save_atomic(model_bundle(model.eval(), [], **bundle), path).parent


@pytest.fixture
def upit(tmp_path):
    return save_separator(tmp_path / "sep" / "model.pt")


@pytest.fixture
def enrolled(tmp_path):
    """A VoiceFilter-style separator conditioned on an untrained single-speaker embedder."""
    args = {k: v for k, v in TINY_MODEL.items() if k == "speaker_net"}
    embedder = build_model("single", **args).eval()
    embedder = save_atomic(model_bundle(embedder, []), tmp_path / "single.pt")
    sep_args = {**UPIT, "n_outputs": 1, "embed_dim": TINY_MODEL["speaker_net"]["embed_dim"]}
    return save_separator(tmp_path / "vf" / "model.pt", sep_args, conditioner=conditioner_spec(embedder))


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Le Roux et al.'s definition, in float64, written out here so the test checks the scorer."""
    e, r = estimate - estimate.mean(), reference - reference.mean()
    target = (e @ r) / (r @ r) * r
    return float(10 * np.log10((target @ target) / ((e - target) @ (e - target))))


def oracle(monkeypatch, leak: float, shift: int = 1) -> dict[bytes, np.ndarray]:
    """Every separator returns the true sources of its mixture, output k source k + ``shift``
    (mod N), plus ``leak`` times the mixture; returns the rendered mixtures' sources by the
    mixture's bytes."""
    rendered, real_mix = {}, separation.mix

    def recording_mix(sources, peak=0.9):
        mixture, sources = real_mix(sources, peak)
        rendered[mixture.tobytes()] = sources.astype(np.float64)
        return mixture, sources

    def separate_batch(self, wavs, embeddings=None):
        out = [np.roll(rendered[w.numpy().tobytes()], -shift, axis=0) + leak * w.numpy() for w in wavs]
        return torch.from_numpy(np.stack(out).astype(np.float32))

    monkeypatch.setattr(separation, "mix", recording_mix)
    monkeypatch.setattr(Separator, "separate_batch", separate_batch)
    return rendered


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    "leak, n",
    [
        # an exact estimate leaves BSS-eval no error: its SDR is infinite, with numpy's warnings
        pytest.param(0.0, 2, marks=pytest.mark.filterwarnings("ignore::RuntimeWarning")),
        (0.1, 3),  # a 3-cycle: unlike a swap of two, it is not its own inverse
    ],
)
def test_an_oracle_in_any_order_is_scored_at_its_known_improvement(corpus, tmp_path, monkeypatch, leak, n):
    exp = save_separator(tmp_path / "sep" / "model.pt", {**UPIT, "n_outputs": n})
    rendered = oracle(monkeypatch, leak)
    result = evaluate_separation(
        exp, drawn(corpus / "seen", n_speakers=n), csv_file=tmp_path / "m.csv", **FAST
    )
    rows = read_csv(tmp_path / "m.csv")
    assert len(rows) == len(rendered) == 3
    for row, (key, sources) in zip(rows, rendered.items()):
        mixture = np.frombuffer(key, dtype=np.float32).astype(np.float64)
        baseline = np.mean([si_sdr(mixture, s) for s in sources])
        if leak:  # matched to the right reference: the wrong one would score near 0 dB
            expected = np.mean([si_sdr(s + leak * mixture, s) for s in sources])
            assert float(row["si_sdr"]) == pytest.approx(expected, abs=1e-3)
            assert float(row["sdr"]) > 10
        else:  # exact: as high as float32 rounding lets SI-SDR go
            expected = float(row["si_sdr"])
            assert expected > 60 and float(row["sdr"]) > 60
        assert float(row["si_sdri"]) == pytest.approx(expected - baseline, abs=1e-3)
    si_sdri = [float(r["si_sdri"]) for r in rows]
    summary = result["metrics"]["si_sdri"]
    assert summary["mean"] == pytest.approx(np.mean(si_sdri)) and summary["n"] == 3
    assert summary["mean_ci"][0] <= summary["mean"] <= summary["mean_ci"][1]


def test_an_enrolled_separator_is_scored_in_enrollment_order_not_matched(enrolled, corpus, monkeypatch):
    """Output k is meant to be enrollment k's speaker: one that returns the other is wrong."""
    oracle(monkeypatch, 0.1, shift=1)
    swapped = evaluate_separation(enrolled, drawn(corpus / "unseen"), enroll_seconds=1.0, **FAST)
    oracle(monkeypatch, 0.1, shift=0)
    right = evaluate_separation(enrolled, drawn(corpus / "unseen"), enroll_seconds=1.0, **FAST)
    assert right["mode"] == "enrolled" and right["enroll_seconds"] == 1.0
    assert right["metrics"]["si_sdr"]["mean"] > 15 > 0 > swapped["metrics"]["si_sdr"]["mean"]


def test_every_separator_hears_the_same_mixtures_and_the_enrolled_one_its_targets(
    upit, enrolled, corpus, tmp_path, monkeypatch
):
    plain = evaluate_separation(upit, drawn(corpus / "unseen"), csv_file=tmp_path / "a.csv", **FAST)
    seen = []
    real_embeddings = Separator.enrolled_embeddings
    monkeypatch.setattr(
        Separator,
        "enrolled_embeddings",
        lambda self, refs: seen.append(len(refs)) or real_embeddings(self, refs),
    )
    vf = evaluate_separation(
        enrolled, drawn(corpus / "unseen"), csv_file=tmp_path / "b.csv", enroll_seconds=1.0, **FAST
    )
    first, second = read_csv(tmp_path / "a.csv"), read_csv(tmp_path / "b.csv")
    assert [(r["mixture"], r["speakers"], r["sir_db"]) for r in first] == [
        (r["mixture"], r["speakers"], r["sir_db"]) for r in second
    ]
    assert seen == [2, 2, 2] and (plain["mode"], vf["mode"]) == ("independent", "enrolled")
    other = evaluate_separation(upit, drawn(corpus / "unseen", seed=1), **FAST)
    assert other["metrics"]["si_sdri"] != plain["metrics"]["si_sdri"]


def test_separators_on_the_same_mixtures_share_each_mixtures_own_scores(upit, enrolled, corpus, monkeypatch):
    """What the improvements are over, kept across separators (as the report keeps it): the very
    figures of scoring each separator alone, and each mixture's own scores computed once."""
    alone = [
        evaluate_separation(upit, drawn(corpus / "unseen"), **FAST),
        evaluate_separation(enrolled, drawn(corpus / "unseen"), enroll_seconds=1.0, **FAST),
    ]
    computed = []
    real = separation.unprocessed_scores
    monkeypatch.setattr(separation, "unprocessed_scores", lambda *a: computed.append(1) or real(*a))
    kept = {}
    shared = [
        evaluate_separation(upit, drawn(corpus / "unseen"), unprocessed=kept, **FAST),
        evaluate_separation(enrolled, drawn(corpus / "unseen"), enroll_seconds=1.0, unprocessed=kept, **FAST),
    ]
    assert [r["metrics"] for r in shared] == [r["metrics"] for r in alone]
    assert len(computed) == len(kept) == shared[0]["n"] == 3
    evaluate_separation(upit, drawn(corpus / "unseen", seed=1), unprocessed=kept, **FAST)  # other mixtures
    assert len(computed) == len(kept) == 6


def test_cli_writes_the_json_it_prints_and_a_row_per_mixture_with_every_metric(
    upit, corpus, tmp_path, capsys
):
    out, rows = tmp_path / "out" / "r.json", tmp_path / "out" / "m.csv"
    out.parent.mkdir()
    assert (
        main(
            [
                "-q",
                "eval-separation",
                str(upit),
                "--data",
                str(corpus / "unseen"),
                "--n",
                "2",
                "--crop",
                "1",
                "--sir",
                "2.5",
                "--json",
                str(out),
                "--csv",
                str(rows),
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["n"] == 2 and printed["sir_db"] == 2.5 and printed["mode"] == "independent"
    metrics = ["sdr", "si_sdr", "pesq", "stoi"]
    assert list(printed["metrics"]) == [k for m in metrics for k in (m, m + "i")]
    assert set(printed["metrics"]["pesqi"]) == {"n", "unscored", "mean", "median", "mean_ci", "median_ci"}
    table = read_csv(rows)
    assert len(table) == 2 and list(table[0]) == [*COLUMNS, "pesq", "pesqi", "stoi", "stoii"]
    assert all(
        float(r["sir_db"]) == pytest.approx(2.5, abs=1.5) and len(r["speakers"].split()) == 2 for r in table
    )


def test_heldout_draws_only_the_utterances_the_model_held_out(corpus, tmp_path):
    manifest = open_corpus(corpus / "seen")
    pair = manifest.speakers[:2]
    exp = save_separator(
        tmp_path / "held" / "model.pt",
        data={"heldout": [u.id for s in pair for u in manifest.by_speaker[s][:2]]},
    )
    evaluate_separation(exp, drawn(corpus / "seen", heldout=True), csv_file=tmp_path / "m.csv", **FAST)
    assert {r["speakers"] for r in read_csv(tmp_path / "m.csv")} <= {" ".join(pair), " ".join(pair[::-1])}


def _distinct_sources(listing) -> None:
    """The fixture trees hold one tone in every file; two tones and their sum make a mixture."""
    for m in load_mixtures(listing):
        t = np.arange(m.num_samples) / m.sample_rate
        sources = [0.3 * np.sin(2 * np.pi * f * t) for f in (220.0, 347.0)]
        for path, wav in zip((m.path, *m.sources), (sum(sources) / 2, *(s / 2 for s in sources))):
            sf.write(path, wav, m.sample_rate)


@pytest.mark.parametrize("corpus_name, root", [("wsj0-2mix", "wsj_root"), ("libri2mix", "libri2mix_root")])
def test_a_prepared_mixture_list_is_scored_whole_at_16_khz(
    corpus_name, root, upit, request, tmp_path, capsys
):
    listing = PREPARERS[corpus_name](request.getfixturevalue(root), tmp_path / "mix.jsonl").out
    _distinct_sources(listing)
    rows = tmp_path / "m.csv"
    assert (
        main(
            [
                "-q",
                "eval-separation",
                str(upit),
                "--mixtures",
                str(listing),
                "--csv",
                str(rows),
                "--no-pesq",
                "--n",
                "1",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 3 and result["mixtures"] == str(listing) and "sir_db" not in result
    table = read_csv(rows)
    assert [r["mixture"] for r in table] == [m.id for m in load_mixtures(listing)]
    assert all(float(r["seconds"]) == 0.5 and abs(float(r["sir_db"])) < 0.1 for r in table)  # 8 kHz resampled


def test_an_enrolled_separator_refuses_a_mixture_list(enrolled, wsj_root, tmp_path):  # noqa: F811
    listing = PREPARERS["wsj0-2mix"](wsj_root, tmp_path / "mix.jsonl").out
    with pytest.raises(
        InputError, match="names no enrollment recordings; score it on mixtures drawn from a corpus"
    ):
        evaluate_separation(enrolled, mixtures=listing, progress=silent)


@pytest.mark.parametrize(
    "damage, error, message",
    [
        (
            "short",
            AudioError,
            "mix/01aa010b_0.97482_209a010p_-0.97482.wav: too short: 0.01 s < 0.02 s required",
        ),
        ("garbage", AudioError, "s2/01aa010b_0.97482_209a010p_-0.97482.wav: unreadable audio"),
        (
            "length",
            CorpusError,
            "s2/01aa010b_0.97482_209a010p_-0.97482.wav: 9000 samples at 16 kHz, but its mixture",
        ),
    ],
)
def test_a_bad_listed_mixture_names_its_file(damage, error, message, upit, wsj_root, tmp_path):  # noqa: F811
    listing = PREPARERS["wsj0-2mix"](wsj_root, tmp_path / "mix.jsonl").out
    _distinct_sources(listing)
    m = load_mixtures(listing)[0]
    if damage == "short":
        sf.write(m.path, 0.3 * np.ones(100), m.sample_rate)
    elif damage == "garbage":
        with open(m.sources[1], "wb") as f:
            f.write(b"RIFF\x00garbage" * 10)
    else:
        sf.write(m.sources[1], 0.3 * np.sin(np.arange(4500)), m.sample_rate)
    with pytest.raises(error, match=message.replace(".", r"\.")):
        evaluate_separation(upit, mixtures=listing, pesq_stoi=False, progress=silent)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "{tmp}/nowhere"], "nowhere: not a directory"),
        (["--mixtures", "{tmp}/nowhere.jsonl"], "nowhere.jsonl: no such mixture list"),
        (
            ["--data", "{unseen}", "--speakers", "3"],
            "gives 2 output(s) per mixture; --speakers 3 needs one trained for 3",
        ),
        (
            ["--data", "{unseen}", "--speakers", "1"],
            "--speakers 1: a mixture of one speaker is its own reference",
        ),
        (["--data", "{unseen}", "--crop", "0.001"], "--crop 0.001: shorter than the 0.016 s"),
        (["--data", "{unseen}", "--heldout"], "--heldout: the model records no held-out utterances"),
        (["--enrolled", "--mixtures", "{tmp}/mix.jsonl"], "names no enrollment recordings"),
        (["--data", "{unseen}", "--mixtures", "{tmp}/mix.jsonl"], None),
    ],
)
def test_cli_errors_are_one_line_with_exit_status_2(args, message, upit, enrolled, corpus, tmp_path, capsys):
    (tmp_path / "mix.jsonl").write_text("")
    exp = enrolled if "--enrolled" in args else upit
    argv = [a.format(tmp=tmp_path, unseen=corpus / "unseen") for a in args if a != "--enrolled"]
    if message is None:  # argparse's own usage error: --data and --mixtures exclude each other
        with pytest.raises(SystemExit) as exit_:
            main(["-q", "eval-separation", str(exp), *argv])
        assert exit_.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
        return
    assert main(["-q", "eval-separation", str(exp), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("mirnet: error: "), err
