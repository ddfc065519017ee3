"""The command line end to end, as a user runs it: train, mix, embed, evaluate, plot, report;
and bad input answered with one line naming the file, exit status 2, no traceback."""

from __future__ import annotations

import json
import logging
import struct
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

import mirnet
from mirnet.audio import AudioError
from mirnet.cli import main
from mirnet.errors import ConfigError

from .conftest import TINY_MODEL


@pytest.fixture(scope="module")
def exp(corpus, tmp_path_factory):
    """A tiny MIRNet trained for one short epoch through the CLI."""
    out = tmp_path_factory.mktemp("cli") / "exp"
    cfg = out.parent / "tiny.yaml"
    cfg.write_text(
        json.dumps(
            {
                "data": {
                    "train": str(corpus / "seen"),
                    "epoch_size": 16,
                    "val_size": 8,
                    "batch_size": 8,
                    "workers": 0,
                    "val_fraction": 0.34,
                },
                "model": {"name": "mirnet", "args": TINY_MODEL},
                "train": {"epochs": 1, "threads": 1, "log_every": 1, "keep_epoch_models": True},
            }
        )
    )
    assert main(["-q", "train", str(cfg), str(out), "optim.warmup_steps=1", "loss.attention_weight=1.0"]) == 0
    return out


def test_overrides_may_follow_options(exp, tmp_path):
    cfg = exp.parent / "tiny.yaml"
    out = tmp_path / "again"
    assert (
        main(["-q", "train", str(cfg), str(out), "--resume", "optim.warmup_steps=3", "data.epoch_size=8"])
        == 0
    )
    assert "warmup_steps: 3" in (out / "config.yaml").read_text()
    with pytest.raises(SystemExit) as err:  # argparse's usage error
        main(["-q", "train", str(cfg), str(out), "--resume", "--bogus"])
    assert err.value.code == 2


def test_extra_voices_train_beside_the_corpus(exp, corpus, tmp_path, capsys):
    """`corpus synth --engines espeak --unseen-fraction 0`, then data.train as a list of two trees."""
    extra = tmp_path / "variants"
    assert (
        main(
            [
                "-q",
                "corpus",
                "synth",
                str(extra),
                "--engines",
                "espeak",
                "--voices",
                "m3",
                "f4",
                "--utterances",
                "2",
                "--unseen-fraction",
                "0",
                "--jobs",
                "2",
            ]
        )
        == 0
    )
    out = tmp_path / "both"
    assert (
        main(
            [
                "-q",
                "train",
                str(exp.parent / "tiny.yaml"),
                str(out),
                f"data.train=[{corpus / 'seen'},{extra / 'seen'}]",
                "data.epoch_size=8",
            ]
        )
        == 0
    )
    bundle = torch.load(out / "model.pt", weights_only=True)
    assert {"2066", "2045"} < set(bundle["speakers"]) and bundle["data"]["source"][1] == str(extra / "seen")
    assert main(["-q", "corpus", "synth", str(tmp_path / "x"), "--engines", "espeak,festival"]) == 2
    assert "festival" in capsys.readouterr().err


def test_mix_then_embed(exp, corpus, tmp_path, capsys):
    mix = tmp_path / "mix.wav"
    assert main(["corpus", "mix", str(corpus / "unseen"), str(mix), "--sir", "3", "--seed", "4"]) == 0
    assert (tmp_path / "mix.source1.wav").exists() and (tmp_path / "mix.json").exists()
    assert main(["embed", str(exp), str(mix), "--out", str(tmp_path / "e.npy")]) == 0
    out = capsys.readouterr().out
    assert "speaker 1:" in out and "speaker 2:" in out and np.load(tmp_path / "e.npy").shape == (2, 32)


def test_embed_converts_stereo_44k(exp, corpus, tmp_path, caplog):
    wav = mirnet.audio.load_audio(next((corpus / "unseen").rglob("*.flac")))
    from scipy.signal import resample_poly

    stereo = np.stack([resample_poly(wav, 441, 160)] * 2, axis=1)
    path = tmp_path / "stereo44.wav"
    sf.write(path, stereo, 44100)
    with caplog.at_level(logging.INFO):
        assert main(["embed", str(exp), str(path)]) == 0
    assert "downmixing 2 channels" in caplog.text and "resampling 44100 Hz" in caplog.text


@pytest.mark.parametrize(
    "content, reason", [(b"RIFF....WAVEjunk" * 10, "unreadable audio"), (None, "silent")]
)
def test_embed_bad_file_one_line_error(exp, tmp_path, capsys, content, reason):
    path = tmp_path / "bad.wav"
    if content is None:
        sf.write(path, np.zeros(16000, np.float32), 16000)
    else:
        path.write_bytes(content)
    assert main(["embed", str(exp), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mirnet: error: ") and str(path) in err and reason in err and "\n" not in err


def test_embed_refuses_other_speaker_counts(exp, corpus, capsys):
    assert main(["embed", str(exp), str(next(corpus.rglob("*.flac"))), "--speakers", "3"]) == 2
    assert "gives 2 embeddings" in capsys.readouterr().err


def test_eval_writes_json_and_rereads_its_trial_list(exp, corpus, tmp_path):
    args = [
        "-q",
        "eval",
        str(exp),
        "--data",
        str(corpus / "seen"),
        "--trials",
        "12",
        "--trial-list",
        str(tmp_path / "trials.json"),
    ]
    assert main([*args, "--json", str(tmp_path / "a.json")]) == 0
    assert main([*args, "--seed", "99", "--json", str(tmp_path / "b.json")]) == 0  # same list, seed ignored
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert {"eer", "eer_ci", "trials", "speakers", "metric", "min_dcf"} <= set(a)
    assert a["eer"] == b["eer"] and a["trial_list_sha1"] == b["trial_list_sha1"] and a["trials"] == 12
    assert 0 <= a["eer_ci"][0] <= a["eer"] <= a["eer_ci"][1] <= 100
    assert (
        main(
            [
                "-q",
                "eval",
                str(exp),
                "--data",
                str(corpus / "seen"),
                "--heldout",
                "--trials",
                "4",
                "--condition",
                "clean",
                "--metric",
                "euclidean",
            ]
        )
        == 0
    )


def _png(path) -> np.ndarray:
    """The decoded pixels of ``path``, which must be a PNG whose header gives their size."""
    from matplotlib.image import imread

    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", head[16:24])
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width), path
    assert pixels[..., :3].std() > 0.05, f"{path}: a blank image"
    return pixels


@pytest.mark.slow
def test_plots(exp, corpus, tmp_path, monkeypatch):
    """Each figure is a non-blank PNG of its figure's size (inches x 120 dpi, give or take the tight
    bounding box), drawn from what the command was given: both t-SNEs from the same 150 mixtures'
    two 32-dim outputs, labelled with the 5 speakers asked for; attention from one mixture of the
    model's 2 speakers; curves from the run's steps.csv. The same --seed gives the same figure,
    another seed another mixture and another figure."""
    from mirnet.eval import figures

    drawn = {}

    def spying(name, real):
        def spy(*args, **kwargs):
            drawn.setdefault(name, []).append(args)
            return real(*args, **kwargs)

        return spy

    for name in ("plot_tsne", "plot_attention", "plot_training_curves"):
        monkeypatch.setattr(figures, name, spying(name, getattr(figures, name)))
    plot = ["plot", "tsne", str(exp), "--data", str(corpus / "seen"), "--n-plot-speakers", "5"]
    assert main([*plot, "--out", str(tmp_path / "tsne")]) == 0
    for seed, out in ((0, "att.png"), (0, "att_again.png"), (1, "att_seed1.png")):
        argv = ["plot", "attention", str(exp), "--data", str(corpus / "unseen"), "--seed", str(seed)]
        assert main([*argv, "--out", str(tmp_path / out)]) == 0
    assert main(["plot", "curves", str(exp), "--out", str(tmp_path / "curve.png")]) == 0

    for name, inches in [
        ("tsne_speakers.png", (6.5, 5.5)),
        ("tsne_outputs.png", (6.5, 5.5)),
        ("att.png", (8.0, 6.0)),
        ("curve.png", (7.0, 4.0)),
    ]:
        height, width = _png(tmp_path / name).shape[:2]
        assert 0.75 * 120 * inches[0] <= width <= 1.25 * 120 * inches[0], (name, width)
        assert 0.75 * 120 * inches[1] <= height <= 1.25 * 120 * inches[1], (name, height)
    np.testing.assert_array_equal(_png(tmp_path / "att.png"), _png(tmp_path / "att_again.png"))
    other = _png(tmp_path / "att_seed1.png")
    assert other.shape != _png(tmp_path / "att.png").shape or (other != _png(tmp_path / "att.png")).any()

    model = mirnet.load(exp)
    (emb, labels, *_), (same, same_labels, *_) = drawn["plot_tsne"]
    assert emb.shape == (150 * 2, 32) and np.array_equal(emb, same) and labels == same_labels
    seen = {p.name for p in (corpus / "seen").iterdir() if p.is_dir()}
    assert len(set(labels)) == 5 and set(labels) <= seen
    first = drawn["plot_attention"][0]
    mixture, sources, attention, power = first[:4]
    assert len(sources) == model.n_speakers == 2 and attention.shape == power.shape == (2, 301)
    assert mixture.shape == sources[0].shape == (257, 301)
    assert not np.array_equal(mixture, drawn["plot_attention"][2][0])  # seed 1: another mixture
    assert drawn["plot_training_curves"][0][0] == exp / "steps.csv"


@pytest.mark.slow
def test_report_scores_every_system_on_the_same_trials(exp, corpus, tmp_path):
    out = tmp_path / "report"
    args = [
        "-q",
        "report",
        str(exp),
        f"copy={exp / 'model.pt'}",
        "--data",
        str(corpus / "seen"),
        "--out",
        str(out),
        "--seen",
        str(corpus / "seen"),
        "--trials",
        "8",
        "--sweep-trials",
        "6",
        "--sweep",
        "sir=-5,5",
        "crop=1",
        "overlap=0.5",
        "--train-run",
        str(exp),
        "--curve",
        f"tiny={exp}",
    ]
    assert main(args) == 0
    report = (out / "REPORT.md").read_text()
    for text in (
        "## Systems",
        "## Ratios",
        "All systems on the same 8 trials",
        "EER vs SIR",
        "EER vs mixture length",
        "EER vs overlap ratio",
        "figures/det_mixture.png",
        "figures/sweep_sir.png",
        "figures/attention.png",
        "## Trial lists",
        "mirnet eval",
        "--overlap 1",
        "## Short training run",
        f"`mirnet -q report {exp}",
        "## Mixture EER against training time",
        "| tiny | 1 |",
        "figures/eer_vs_time.png",
    ):
        assert text in report, text
    # the same model under two labels, scored on the same trial list, gives the same numbers
    row = {
        line.split(" | ")[0].strip("| "): line.split(" | ")[1:]
        for line in report.splitlines()
        if line.startswith(("| exp |", "| copy |"))
    }
    assert row["exp"] == row["copy"]
    assert all((out / "figures" / f).stat().st_size > 0 for f in ("det_mixture.png", "sweep_crop.png"))


def test_python_api(exp, corpus, tmp_path):
    """A waveform, its file and its batch give the same embeddings; another clip does not."""
    model = mirnet.load(exp)
    emb = model.embed(torch.randn(24000) * 0.1)
    assert emb.shape == (model.n_speakers, model.embed_dim) == (2, 32)
    files = sorted((corpus / "unseen").rglob("*.flac"))[:2]
    wav = mirnet.audio.load_audio(files[0])
    mirnet.audio.save_audio(tmp_path / "a.wav", wav)
    by_array, by_file = model.embed(wav), model.embed_file(tmp_path / "a.wav")
    by_batch = model.embed_batch(torch.from_numpy(wav)[None])[0]
    assert torch.allclose(by_array, by_batch, atol=1e-5) and torch.allclose(by_array, by_file, atol=1e-3)
    assert not torch.allclose(by_array, model.embed_file(files[1]), atol=1e-2)
    with pytest.raises(AudioError, match="too short"):
        model.embed(np.ones(100, np.float32) * 0.1)


def test_config_and_checkpoint_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  crop: 3\n")
    assert main(["train", str(bad), str(tmp_path / "x")]) == 2
    assert "unknown config key(s) data.crop" in capsys.readouterr().err
    assert main(["embed", str(tmp_path / "nothing"), str(bad)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_train_check_builds_the_run_without_training(exp, tmp_path, capsys):
    """--check: the one-line summary, exit 0, nothing written; an experiment dir holding a run
    is refused as the run would refuse it, unless --resume."""
    cfg = exp.parent / "tiny.yaml"
    out = tmp_path / "new"
    assert main(["-q", "train", str(cfg), str(out), "--check", "data.epoch_size=12"]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith(f"{out}: mirnet with ") and summary.count("\n") == 1
    assert "1 steps of 8 mixtures per epoch x 1 epochs" in summary and not out.exists()
    assert main(["-q", "train", str(cfg), str(exp), "--check"]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err
    assert main(["-q", "train", str(cfg), str(exp), "--check", "--resume"]) == 0


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  crop: 3\n")
    with pytest.raises(ConfigError, match="unknown config key"):
        main(["--debug", "train", str(bad), str(tmp_path / "x")])


@pytest.mark.parametrize("bug", [RuntimeError("a bug"), ValueError("a bug"), TypeError("a bug")])
def test_other_exceptions_keep_their_traceback(monkeypatch, tmp_path, bug):
    """Only the project's own errors (and OSError on a user's path) become one line: anything
    else is a bug, in mirnet or in torch, and a one-line message would hide where it is."""

    def embed(a):
        raise bug

    monkeypatch.setattr("mirnet.cli.apps._embed", embed)
    with pytest.raises(type(bug), match="a bug"):
        main(["embed", str(tmp_path), str(tmp_path / "a.wav")])


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["corpus", "mix", "c", "m.wav", "--speakers", "0"],
            "argument --speakers: expected a whole number >= 1, got 0",
        ),
        (
            ["corpus", "mix", "c", "m.wav", "--seconds", "-1"],
            "argument --seconds: expected a number > 0, got -1.0",
        ),
        (
            ["corpus", "mix", "c", "m.wav", "--overlap", "2"],
            "argument --overlap: expected a number <= 1, got 2.0",
        ),
        (["eval", "e", "--data", "c", "--sir", "nan"], "argument --sir: expected a finite number, got nan"),
        (
            ["eval", "e", "--data", "c", "--trials", "0"],
            "argument --trials: expected a whole number >= 1, got 0",
        ),
        (
            ["eval", "e", "--data", "c", "--seed", "-1"],
            "argument --seed: expected a whole number >= 0, got -1",
        ),
    ],
)
def test_numeric_options_are_checked_where_they_are_parsed(args, message, capsys):
    """Each one an exception from numpy or torch (ZeroDivisionError, a broadcast, an overflow,
    an empty torch.cat) before: argparse's usage error now, exit status 2."""
    with pytest.raises(SystemExit) as err:
        main(args)
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_plots_of_mixtures_need_a_corpus(capsys):
    assert main(["plot", "tsne", "models/reference", "--out", "t"]) == 2  # a TypeError from Path(None) before
    assert "plot tsne: needs --data" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"mirnet {mirnet.__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["diarize", "reference", "a.wav", "--out", "a.rttm"],
        ["corpus", "conversation", "out", "--data", "d"],
        ["eval-diarization", "reference", "--data", "d"],
    ],
)
def test_the_global_quiet_is_not_undone_by_a_subcommand(argv):
    from mirnet.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["-q", *argv]).quiet and parse([*argv, "--quiet"]).quiet and not parse(argv).quiet


def test_help_gives_defaults_choices_and_what_each_positional_is(capsys):
    for argv, wanted in [
        (["eval"], ["--trials TRIALS", "(default: 1000)", "(default: 0.0)"]),
        (["serve"], ["(default: 8000)", "(default: 127.0.0.1)", "(default: 50.0)", "shipped name"]),
        (["export"], ["onnx or torchscript"]),
        (["embed"], ["audio ", "the recording", "reference, mirnet, mirnet/teacher, upit"]),
        (["enroll"], ["the speaker's name", "clean recordings"]),
        (["prepare", "wsj0-2mix"], ["the folder wsj0-2mix was unpacked into", "(default: 8k)"]),
    ]:
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert all(w in text for w in wanted), (argv, text)
        assert "docs/" not in text.split("options:")[0], argv  # no repository path a user cannot open


@pytest.mark.parametrize("verb", ["embed", "identify", "diarize", "separate", "verify", "enroll"])
def test_a_missing_input_is_refused_before_any_model_loads(verb, exp, tmp_path, monkeypatch, capsys):
    def no_loading(*args, **kwargs):
        pytest.fail("loaded a model for a missing file")

    for name in ("load", "load_separator"):
        monkeypatch.setattr(mirnet, name, no_loading)
    monkeypatch.setattr(mirnet.checkpoint, "read_bundle", no_loading)
    missing = str(tmp_path / "missing.wav")
    argv = {
        "embed": ["embed", str(exp), missing],
        "identify": ["identify", str(exp), missing, "--gallery", str(tmp_path / "g")],
        "diarize": ["diarize", str(exp), missing, "--out", str(tmp_path / "a.rttm")],
        "separate": ["separate", str(exp), missing, "--out", str(tmp_path / "sep")],
        "verify": ["verify", str(exp), missing, missing],
        "enroll": ["enroll", str(exp), "alice", missing, "--gallery", str(tmp_path / "g")],
    }[verb]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"mirnet: error: {missing}: no such file\n"
    assert not (tmp_path / "g").exists() and not (tmp_path / "sep").exists()


def test_an_output_in_a_missing_folder_is_refused_before_the_work(exp, corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mirnet, "load", lambda *a, **kw: pytest.fail("loaded a model"))
    monkeypatch.setattr(mirnet.checkpoint, "read_bundle", lambda *a, **kw: pytest.fail("read a model"))
    clip = str(next((corpus / "unseen").rglob("*.flac")))
    out = tmp_path / "nowhere" / "e.npy"
    data = ["--data", str(corpus / "unseen")]
    for argv in (
        ["embed", str(exp), clip, "--out", str(out)],
        ["eval", str(exp), *data, "--json", str(out)],
        ["cohort", str(exp), *data, "--out", str(out)],
        ["eval-separation", str(exp), *data, "--json", str(out)],
    ):
        assert main(argv) == 2, argv
        assert capsys.readouterr().err == f"mirnet: error: {out}: no such directory {out.parent}\n", argv


def test_embed_prints_no_similarity_that_reads_as_a_verdict(exp, corpus, tmp_path, capsys):
    mix = tmp_path / "mix.wav"
    assert main(["-q", "corpus", "mix", str(corpus / "unseen"), str(mix), "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["embed", str(exp), str(mix)]) == 0
    out = capsys.readouterr().out
    assert out.count("speaker ") == 2 and "similarity" not in out and "cosine" not in out


def test_eval_prints_json_on_stdout_a_summary_line_and_a_bar_that_counts_trials(exp, corpus, capsys):
    assert main(["eval", str(exp), "--data", str(corpus / "seen"), "--trials", "12"]) == 0
    captured = capsys.readouterr()
    r = json.loads(captured.out)  # stdout is the JSON alone
    summary = captured.err.rstrip().splitlines()[-1]
    assert (
        summary.startswith(f"EER {r['eer']:.2f}% [")
        and f"12 mixture trials of {r['speakers']} speakers" in summary
    )
    assert "cosine, raw" in summary and f"minDCF {r['min_dcf']:.3f}" in summary
    assert "0/12 " in captured.err and "trial/s" in captured.err  # counts trials, not batches


def test_the_python_api_warns_of_each_conversion_without_any_logging_set_up(exp):
    from mirnet.api import ConversionWarning

    model = mirnet.load(exp)
    stereo = (np.random.default_rng(0).standard_normal((44100 * 2, 2)) * 0.1).astype(np.float32)
    with pytest.warns(
        ConversionWarning, match="2 channels downmixed and resampled 44100 Hz -> 16000 Hz"
    ) as seen:
        model.embed(stereo, sample_rate=44100)
    assert seen[0].filename == __file__  # pointed at the caller's line, not the library's
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 16-kHz mono: nothing to say
        model.embed(stereo[:32000, 0], sample_rate=16000)
