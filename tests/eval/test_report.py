"""The report's plan: labels, sweep axes, the combinations it refuses by field, and the cache that
lets an interrupted report resume without re-scoring, but never reuses a result for another system
or another trial list; its headings, which say the setting scored; and its separation section,
whose rows are what `mirnet eval-separation` gives on the very same mixtures."""

from __future__ import annotations

import csv
import json
import re
import shlex
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mirnet.architectures import build_model
from mirnet.checkpoint import model_bundle, save_atomic
from mirnet.cli import main
from mirnet.corpus import open_corpus
from mirnet.data.mixing import MixingConfig
from mirnet.eval import report, separation
from mirnet.eval.evaluate import system_fingerprint
from mirnet.eval.report import PlanError, ReportPlan, cache
from mirnet.eval.report.cache import Runner
from mirnet.eval.report.plan import SWEEPS, parse_sweeps
from mirnet.eval.report.sections import Comparison, Sweeps
from mirnet.eval.report.separation_section import SEPARATION_COLUMNS
from mirnet.eval.report.systems import System, epoch_models, parse_systems
from mirnet.eval.setting import TrialSetting
from mirnet.eval.trials import trial_list_sha1
from mirnet.progress import silent

from ..conftest import TINY_MODEL


def test_systems_are_labelled_by_folder_peer_or_name():
    systems = parse_systems(
        ["models/reference", "runs/x/model.pt", "resemblyzer", "t=models/reference/teacher"]
    )
    assert [s.label for s in systems] == ["reference", "x", "resemblyzer", "t"]
    assert [s.is_peer for s in systems] == [False, False, True, False]
    with pytest.raises(ValueError, match="share the label.*reference"):
        parse_systems(["models/reference", "other/reference"])


@pytest.mark.parametrize(
    "specs, expected",
    [
        (None, {k: v[1] for k, v in SWEEPS.items()}),
        ([], {}),
        (["sir=-5,5", "speakers"], {"sir": (-5.0, 5.0), "speakers": (2, 3)}),
        (["speakers=3"], {"speakers": (3,)}),
    ],
)
def test_sweep_axes(specs, expected):
    assert parse_sweeps(specs) == expected


@pytest.mark.parametrize("spec, message", [("snr=1", "unknown axis 'snr'"), ("speakers=2.5", "ints")])
def test_bad_sweep_axis_names_the_problem(spec, message):
    with pytest.raises(PlanError, match=message) as refused:
        parse_sweeps([spec])
    assert refused.value.field == "sweeps" and str(refused.value).startswith(f"sweeps {spec}: ")


def test_runner_reuses_only_the_same_system_on_the_same_trials_at_the_same_precision(tmp_path, monkeypatch):
    calls = []

    def fake_evaluate(exp, setting, *, trial_list, scores_file, **kw):
        calls.append((exp, kw["condition"]))
        precision = {"auto": "fp32"}.get(kw["precision"], kw["precision"])
        if not trial_list.exists():
            trial_list.parent.mkdir(parents=True, exist_ok=True)
            trial_list.write_text("trials")
        scores_file.parent.mkdir(parents=True, exist_ok=True)
        scores_file.write_bytes(b"npz")
        return {
            "eer": 10.0,
            "system": fingerprint[exp],
            "metric": kw["metric"],
            "trial_list": str(trial_list),
            "trial_list_sha1": trial_list_sha1(trial_list),
            "condition": kw["condition"],
            "precision": precision,
        }

    monkeypatch.setattr(cache, "system_precision", lambda exp, p: {"auto": "fp32"}.get(p, p))
    fingerprint = {"a": "sha-a", "b": "sha-b"}
    monkeypatch.setattr(cache, "evaluate", fake_evaluate)
    monkeypatch.setattr(cache, "system_fingerprint", lambda exp: fingerprint[exp])
    loads = []
    monkeypatch.setattr(cache, "load_system", lambda exp, precision: loads.append(exp) or (None, None))
    opened = []
    monkeypatch.setattr(cache, "open_corpus", lambda data: opened.append(data))
    setting = TrialSetting("corpus/unseen", 10, overlap=0.25)
    half = TrialSetting("corpus/unseen", 10, overlap=0.5)
    plan = ReportPlan(out=tmp_path, systems=["a", "b"], data="corpus/unseen")
    run = Runner(plan)
    run.result(System("A", "a"), setting, "mixture")
    run.result(System("A", "a"), half, "mixture")  # another setting, whose name differs only after a dot
    run.result(System("A", "a"), setting, "mixture")  # cached
    run.result(System("A", "a"), half, "mixture")  # cached too: its result did not overwrite the other
    run.result(System("A", "a"), setting, "clean")  # another condition
    run.result(System("B", "b"), setting, "mixture")  # another system
    assert calls == [("a", "mixture"), ("a", "mixture"), ("a", "clean"), ("b", "mixture")]
    assert loads == ["a", "b"] and opened == ["corpus/unseen"]  # each loaded once, however often scored
    run.trial_list(setting).write_text("other trials")  # the trial list changed under it
    Runner(plan).result(System("A", "a"), setting, "mixture")
    assert len(calls) == 5
    fingerprint["a"] = "sha-a2"  # the model file changed
    Runner(plan).result(System("A", "a"), setting, "mixture")
    assert calls[-1] == ("a", "mixture") and len(calls) == 6
    cached = json.loads((tmp_path / "evals" / "A" / f"{setting.name}_mixture.json").read_text())
    assert cached["system"] == "sha-a2" and cached["label"] == "A"
    Runner(replace(plan, precision="fp32")).result(System("A", "a"), setting, "mixture")  # auto is fp32 here
    assert len(calls) == 6
    bf16 = replace(plan, precision="bf16")
    Runner(bf16).result(System("A", "a"), setting, "mixture")  # not fp32's result
    Runner(bf16).result(System("A", "a"), setting, "mixture")
    assert len(calls) == 7
    assert (
        json.loads((tmp_path / "evals" / "A" / f"{setting.name}_mixture.json").read_text())["precision"]
        == "bf16"
    )


def test_epoch_models_pair_each_kept_epoch_with_its_training_time(tmp_path):
    run = tmp_path / "run"
    (run / "epochs").mkdir(parents=True)
    with pytest.raises(ValueError, match="no epochs/epoch.*keep_epoch_models"):
        epoch_models(run)
    for e in (1, 2, 3):
        (run / "epochs" / f"epoch{e:03d}.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="epochs.csv: cannot read"):
        epoch_models(run)
    (run / "epochs.csv").write_text("epoch,step,elapsed_s\n1,10,60\n2,20,150\n")  # epoch 3 still running
    assert epoch_models(run) == [
        (1, 1.0, run / "epochs" / "epoch001.pt"),
        (2, 2.5, run / "epochs" / "epoch002.pt"),
    ]


# -- the separation section: every separator on the same mixtures, cached like the embedders

FAST = dict(
    trials=4,
    conditions=["mixture"],
    sweeps=[],
    paper_figures=False,
    separation_mixtures=4,
    separation_pesq_stoi=False,
    progress=silent,
)
CROP = 3 * 16000  # samples of every mixture the report draws


@pytest.fixture
def embedder(corpus, tmp_path, one_thread):
    """An untrained single-speaker embedder: the report needs one system; every seen utterance
    counts as held out, so its seen-speaker headline can draw trials."""
    args = {"speaker_net": TINY_MODEL["speaker_net"]}
    torch.manual_seed(0)
    heldout = [u.id for u in open_corpus(corpus / "seen")]
    return save_atomic(
        model_bundle(build_model("single", **args).eval(), [], data={"heldout": heldout}),
        tmp_path / "emb" / "model.pt",
    ).parent


def save_separator(path, halving: bool = False, seed: int = 0, heldout: list[str] | None = None):
    """An untrained uPIT separator; ``halving``: its last layer zero, so both masks are
    sigmoid(0) = 0.5 and each output is half the mixture."""
    args = {"n_outputs": 2, "lstm_hidden": 8, "lstm_layers": 1, "fc_dim": 8}
    torch.manual_seed(seed)
    model = build_model("mask_separator", **args).eval()
    if halving:
        with torch.no_grad():
            model.fc[-1].weight.zero_()
            model.fc[-1].bias.zero_()
    data = {"heldout": heldout} if heldout else None
    return save_atomic(model_bundle(model, [], data=data), path).parent


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    e, r = estimate - estimate.mean(), reference - reference.mean()
    target = (e @ r) / (r @ r) * r
    return float(10 * np.log10((target @ target) / ((e - target) @ (e - target))))


def section_tables(report_md: str) -> dict[str, dict[str, list[str]]]:
    """Separation tables of REPORT.md: heading -> separator label -> cells."""
    section = report_md.split("## Separation (paper section 4.2)")[1].split("\n## ")[0]
    tables = {}
    for block in section.split("\n### ")[1:]:
        heading, body = block.split("\n", 1)
        rows = [line.strip("|").split(" | ") for line in body.splitlines() if line.startswith("| ")]
        tables[heading] = {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}
    return tables


def interval(cell: str) -> tuple[float, float, float]:
    mean, low, high = re.fullmatch(r"(-?[\d.]+) \[(-?[\d.]+), (-?[\d.]+)\]", cell).groups()
    return float(mean), float(low), float(high)


def commands(report_md: str) -> list[list[str]]:
    return [
        shlex.split(line)[1:] for line in report_md.splitlines() if line.startswith("mirnet eval-separation ")
    ]


def test_every_printed_eval_command_draws_the_same_trials_and_gives_the_same_numbers(
    embedder, corpus, tmp_path, capsys
):
    """The "Commands" section re-run by hand, each writing its trials afresh from its flags alone:
    the trial lists must hash as the report's, and the scores must be the report's. The headline's
    clean rows take their own, smaller number of trials."""
    seen, out = corpus / "seen", tmp_path / "report"
    fast = {**FAST, "sweeps": ["overlap=0.5", "crop=2"], "separation_mixtures": None, "clean_trials": 3}
    report.write_report(ReportPlan(out=out, systems=[str(embedder)], data=seen, seen=seen, **fast))
    text = (out / "REPORT.md").read_text()
    printed = [
        shlex.split(line)[1:]
        for line in text.split("## Commands")[1].splitlines()
        if line.startswith("mirnet eval ")
    ]
    # the headline, mixture and clean, on all speakers and on held-out utterances (the comparison
    # is the first of them), then two sweep points
    assert len(printed) == 6 and sum("--heldout" in argv for argv in printed) == 2
    capsys.readouterr()
    for i, argv in enumerate(printed):
        listed = Path(argv[argv.index("--trial-list") + 1])
        fresh = [*argv[: argv.index("--trial-list")], "--trial-list", str(tmp_path / f"again{i}.json")]
        assert main(["-q", *fresh]) == 0
        again = json.loads(capsys.readouterr().out)
        condition = argv[argv.index("--condition") + 1]
        cached = json.loads((out / "evals" / "emb" / f"{listed.stem}_{condition}.json").read_text())
        assert again["trial_list_sha1"] == cached["trial_list_sha1"] == trial_list_sha1(listed)
        assert cached["trials"] == (3 if condition == "clean" else 4)
        for key in ("eer", "eer_ci", "min_dcf", "overlap", "crop_seconds", "heldout"):
            assert again[key] == cached[key], key
        assert f"**{cached['eer']:.1f}**" in text


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_normalised_report_prints_cohort_and_eval_commands_that_give_its_numbers(
    precision, corpus, tmp_path, capsys, monkeypatch, one_thread
):
    """``--score-norm``: each system's cohort is drawn from the utterances it did not hold out, kept
    beside the results and reused; the printed ``mirnet cohort`` and ``mirnet eval --cohort``
    commands, re-run by hand, give the very cohort and the very numbers, at the report's
    precision."""
    seen, out = corpus / "seen", tmp_path / "report"
    utterances = open_corpus(seen)
    heldout = [u.id for s in utterances.speakers for u in utterances.by_speaker[s][:3]]
    torch.manual_seed(0)
    model = build_model("single", speaker_net=TINY_MODEL["speaker_net"]).eval()
    emb = save_atomic(
        model_bundle(model, [], data={"heldout": heldout}), tmp_path / "emb" / "model.pt"
    ).parent
    monkeypatch.setattr(cache, "COHORT_MIXTURES", 8)
    handed = []  # what a section composed above the report (diarization) is given
    section = lambda out, cohorts: handed.append(cohorts) or []  # noqa: E731
    common = dict(systems=[str(emb)], data=seen, seen=seen, **FAST)
    report.write_report(
        ReportPlan(out=out, score_norm="asnorm", top_k=3, precision=precision, sections=[section], **common)
    )
    assert handed == [{"emb": out / "cohorts" / "emb.npz"}]
    text = (out / "REPORT.md").read_text()
    assert "AS-norm: each side z-normalised by its 3 highest cosines to the cohort" in text
    printed = [shlex.split(line)[1:] for line in text.split("## Commands")[1].splitlines()]
    cohort_cmds = [argv for argv in printed if argv[:1] == ["cohort"]]
    eval_cmds = [argv for argv in printed if argv[:1] == ["eval"]]
    assert len(cohort_cmds) == 1 and len(eval_cmds) == 4  # mixture and clean, all and held-out
    kept = out / "cohorts" / "emb.npz"
    with np.load(kept) as z:
        cohort = z["embeddings"]
        meta = json.loads(str(z["meta"]))
    assert cohort.shape[0] == 8 and meta["training"] and meta["system"] == system_fingerprint(emb)
    assert meta["precision"] == precision
    assert all(f"--precision {precision}" in " ".join(argv) for argv in cohort_cmds + eval_cmds)

    argv = cohort_cmds[0]
    again = tmp_path / "again.npz"
    assert main(["-q", *argv[: argv.index("--out")], "--out", str(again)]) == 0
    with np.load(again) as z:
        np.testing.assert_array_equal(z["embeddings"], cohort)
    capsys.readouterr()
    for argv in eval_cmds:
        assert (
            main(
                [
                    "-q",
                    *argv[: argv.index("--cohort")],
                    "--cohort",
                    str(again),
                    *argv[argv.index("--cohort") + 2 :],
                ]
            )
            == 0
        )
        result = json.loads(capsys.readouterr().out)
        listed = Path(argv[argv.index("--trial-list") + 1])
        condition = argv[argv.index("--condition") + 1]
        cached = json.loads((out / "evals" / "emb" / f"{listed.stem}_{condition}.json").read_text())
        assert cached["score_norm"]["method"] == result["score_norm"]["method"] == "asnorm"
        assert cached["score_norm"]["top_k"] == 3
        for key in ("eer", "eer_ci", "min_dcf"):
            assert result[key] == cached[key], key

    # a second report reuses the cohort and the results; another normalisation re-scores
    stamp = kept.stat().st_mtime_ns
    scored = []
    original = cache.evaluate
    monkeypatch.setattr(
        cache, "evaluate", lambda *a, **kw: scored.append(kw["score_norm"]) or original(*a, **kw)
    )
    report.write_report(ReportPlan(out=out, score_norm="asnorm", top_k=3, precision=precision, **common))
    assert scored == [] and kept.stat().st_mtime_ns == stamp
    report.write_report(ReportPlan(out=out, score_norm="mean", precision=precision, **common))
    assert scored == ["mean"] * 4 and kept.stat().st_mtime_ns == stamp

    # a cohort shipped beside the model, drawn under the report's setting, is taken, not drawn again
    (emb / "cohort.npz").write_bytes(kept.read_bytes())
    monkeypatch.setattr(
        cache, "write_cohort", lambda *a, **kw: pytest.fail("the shipped cohort was drawn again")
    )
    report.write_report(ReportPlan(out=tmp_path / "fresh", score_norm="asnorm", top_k=3, **common))
    assert (tmp_path / "fresh" / "cohorts" / "emb.npz").read_bytes() == kept.read_bytes()


# what the CLI calls the plan's fields, as its handler words a refusal
FLAGS = {
    "score_norm": "--score-norm",
    "seen": "--seen",
    "separator": "--separator",
    "conditions": "--conditions",
    "recorded": "--recorded",
    "recorded_trials": "--recorded-trials",
    "sweeps": "--sweep",
}


@pytest.mark.parametrize(
    "fields, field, message, worded",
    [
        (
            dict(score_norm="asnorm"),
            "score_norm",
            "score_norm needs seen: each system's cohort is drawn from the training voices",
            "--score-norm needs --seen: each system's cohort is drawn from the training voices",
        ),
        (
            dict(seen="corpus/seen", score_norm="asnorm", separator="sep", conditions=["cascade"]),
            "score_norm",
            "score_norm: a cascade has no cohort of its own; join the pair with mirnet compose",
            "--score-norm: a cascade has no cohort of its own; join the pair with mirnet compose",
        ),
        (
            dict(conditions=["mixture", "cascade"]),
            "separator",
            "separator: the cascade condition needs one, and only it uses one",
            "--separator: the cascade condition needs one, and only it uses one",
        ),
        (
            dict(separator="sep", conditions=["mixture"]),
            "separator",
            "separator: the cascade condition needs one, and only it uses one",
            "--separator: the cascade condition needs one, and only it uses one",
        ),
        (
            dict(recorded_trials=3),
            "recorded_trials",
            "recorded_trials: the trials of the recorded section; give recorded too",
            "--recorded-trials: the trials of the --recorded section; give --recorded too",
        ),
        (
            dict(conditions=["mixture", "noisy"]),
            "conditions",
            "conditions: unknown condition(s) noisy; choose from mixture, clean, enrolled, separated, cascade",
            "--conditions: unknown condition(s) noisy; choose from mixture, clean, enrolled, separated, cascade",
        ),
        (
            dict(sweeps=["sir=-5,{x}"]),
            "sweeps",
            "sweeps sir=-5,{x}: values must be floats separated by commas",
            "--sweep sir=-5,{x}: values must be floats separated by commas",
        ),
    ],
)
def test_a_plan_refuses_what_the_report_cannot_score_by_the_field_at_fault(
    fields, field, message, worded, tmp_path
):
    """Refused when built, before anything is written; in the plan's words, and in the words of a
    caller that took the fields under other names (a value is never read as a field)."""
    with pytest.raises(PlanError) as refused:
        ReportPlan(out=tmp_path / "r", systems=["emb"], data="corpus/unseen", **fields)
    assert refused.value.field == field and str(refused.value) == message
    assert refused.value.worded(FLAGS) == worded
    assert not (tmp_path / "r").exists()


class Canned:
    """A report's context that scores nothing: every result the same, and the settings asked for."""

    def __init__(self, out: Path):
        self.out, self.run, self.asked = out, self, []

    def score(self, system, setting, condition, raw=False):
        self.asked.append(setting)
        return {"eer": 10.0, "eer_ci": [5.0, 15.0], "min_dcf": 0.5}

    def det(self, result):
        return np.array([0.01, 0.5, 0.99]), np.array([0.99, 0.5, 0.01])


@pytest.mark.parametrize(
    "setting, comparison, sweeps",
    [
        (
            TrialSetting("corpus/unseen", 8),
            "## All systems on the same 8 trials (unseen, 0 dB, full overlap, 3 s)",
            "Each point changes one axis of the base setting (0 dB, full overlap, 3 s, 2 speakers) ",
        ),
        (
            TrialSetting("corpus/unseen", 8, sir_db=5.0, overlap=0.5, crop_seconds=2.0, n_speakers=3),
            "## All systems on the same 8 trials (unseen, 5 dB, 50% overlap, 2 s)",
            "Each point changes one axis of the base setting (5 dB, 50% overlap, 2 s, 3 speakers) ",
        ),
    ],
)
def test_headings_say_the_setting_scored(setting, comparison, sweeps, tmp_path):
    (tmp_path / "figures").mkdir()
    ctx, systems = Canned(tmp_path), [System("a", "a"), System("b", "b")]
    printed = Comparison(systems, setting, ["mixture"]).render(ctx)
    assert comparison in printed.lines and ctx.asked == [setting, setting]
    printed = Sweeps(systems, setting, {"crop": (1.0,)}).render(ctx)
    assert any(line.startswith(sweeps) for line in printed.lines)
    assert ctx.asked[2:] == [replace(setting, crop_seconds=1.0)] * 2


def test_separation_tables_are_what_each_rows_command_gives_on_the_same_mixtures(
    embedder, corpus, tmp_path, capsys
):
    seen = corpus / "seen"
    pair = open_corpus(seen).speakers[:2]
    held = [u.id for s in pair for u in open_corpus(seen).by_speaker[s]]
    half = save_separator(tmp_path / "half" / "model.pt", halving=True, heldout=held)
    other = save_separator(tmp_path / "other" / "model.pt", seed=1)
    out = tmp_path / "report"
    report.write_report(
        ReportPlan(
            out=out,
            systems=[str(embedder)],
            data=seen,
            seen=seen,
            separators=[f"h={half}", str(other)],
            **FAST,
        )
    )
    text = (out / "REPORT.md").read_text()
    tables = section_tables(text)
    unseen = "seen: unseen speakers (4 mixtures)"
    heldout = "seen: held-out utterances of the training speakers (4 mixtures)"
    assert list(tables) == [unseen, heldout]
    assert list(tables[unseen]) == ["h", "other"] and list(tables[heldout]) == ["h"]
    assert "Not scored here: other (the model file records no held-out utterances)" in text
    assert "the very same 4 mixtures" in text

    # each row is what its command prints: the same settings, the same mixtures
    rows = [(tables[unseen], "h"), (tables[unseen], "other"), (tables[heldout], "h")]
    capsys.readouterr()
    for argv, (table, label) in zip(commands(text), rows, strict=True):
        assert main(["-q", *argv]) == 0
        result = json.loads(capsys.readouterr().out)
        assert table[label][0] == result["mode"] == "independent"
        for (key, _, digits), cell in zip(SEPARATION_COLUMNS, table[label][1:]):
            if key in result["metrics"]:
                m = result["metrics"][key]
                assert interval(cell) == pytest.approx((m["mean"], *m["mean_ci"]), abs=0.6 * 10**-digits), key
            else:
                assert cell == "–", key
    assert tables[unseen]["h"] != tables[unseen]["other"]

    # half the mixture: SI-SDR as the mixture's own against each reference, so no improvement
    mixtures = list(
        separation.drawn_mixtures(open_corpus(seen), 4, MixingConfig(2, 3.0, (0.0, 0.0), (1.0, 1.0)), 0)
    )
    own = [
        np.mean([si_sdr(m.mixture.astype(np.float64), r.astype(np.float64)) for r in m.references])
        for m in mixtures
    ]
    with open(out / "evals" / "separation" / "h" / "seen_n4_seed0_sir0_crop3_spk2.csv", newline="") as f:
        scored = list(csv.DictReader(f))
    assert [float(r["si_sdr"]) for r in scored] == pytest.approx(own, abs=1e-3)
    assert interval(tables[unseen]["h"][2]) == pytest.approx((0, 0, 0), abs=0.006)
    assert interval(tables[unseen]["h"][5])[0] == pytest.approx(np.mean(own), abs=0.006)
    with open(
        out / "evals" / "separation" / "h" / "seen-heldout_n4_seed0_sir0_crop3_spk2.csv", newline=""
    ) as f:
        assert {r["speakers"] for r in csv.DictReader(f)} <= {" ".join(pair), " ".join(pair[::-1])}

    # the figure, and two mixtures to listen to: those of the table, every output matched
    assert (out / "figures" / "separation_spectrograms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](figures/separation_spectrograms.png)" in text
    for i, m in enumerate(mixtures[:2]):
        folder = out / "examples" / f"mixture{i}"
        names = [
            "mixture",
            "reference1",
            "reference2",
            "h.speaker1",
            "h.speaker2",
            "other.speaker1",
            "other.speaker2",
        ]
        assert sorted(p.stem for p in folder.iterdir()) == sorted(names)
        wavs = {name: sf.read(folder / f"{name}.wav", dtype="float32")[0] for name in names}
        assert all(len(w) == CROP for w in wavs.values())
        assert np.abs(wavs["mixture"] - m.mixture).max() < 1e-4  # 16-bit rounding
        assert np.abs(wavs["h.speaker1"] - wavs["mixture"] / 2).max() < 2e-4
        assert f"`examples/mixture{i}/` (mixture {i}, speakers {', '.join(m.speakers)})" in text
        assert f"](examples/mixture{i}/other.speaker2.wav)" in text


@pytest.mark.slow
def test_a_second_report_reuses_cached_separation_unless_separator_or_settings_change(
    embedder, corpus, tmp_path, monkeypatch
):
    seen, out = corpus / "seen", tmp_path / "report"
    plain = ReportPlan(out=out, systems=[str(embedder)], data=seen, **FAST)
    report.write_report(plain)  # no separators: the report as it was
    assert "## Separation" not in (out / "REPORT.md").read_text() and not (out / "examples").exists()

    sep = save_separator(tmp_path / "sep" / "model.pt")
    plan = replace(plain, separators=[str(sep)])
    report.write_report(plan)
    first = section_tables((out / "REPORT.md").read_text())
    calls, real = [], cache.evaluate_separation

    def counted(exp, setting, **kw):
        calls.append(setting.n)
        return real(exp, setting, **kw)

    def refuse(*a, **kw):
        raise AssertionError("scored again")

    monkeypatch.setattr(cache, "evaluate_separation", refuse)
    report.write_report(plan)
    assert section_tables((out / "REPORT.md").read_text()) == first
    monkeypatch.setattr(cache, "evaluate_separation", counted)
    report.write_report(replace(plan, separation_mixtures=3))
    assert calls == [3]  # other settings: other mixtures
    save_separator(tmp_path / "sep" / "model.pt", seed=1)  # the model file changed
    report.write_report(plan)
    assert calls == [3, 4] and section_tables((out / "REPORT.md").read_text()) != first
    cached = json.loads(
        (out / "evals" / "separation" / "sep" / "seen_n4_seed0_sir0_crop3_spk2.json").read_text()
    )
    assert cached["system"] == system_fingerprint(sep) and cached["settings"]["n"] == 4


def test_cli_report_scores_pesq_and_stoi_of_each_separator(embedder, corpus, tmp_path):
    """PESQ and STOI, like SI-SDR, do not care that each output is half the mixture's level."""
    half = save_separator(tmp_path / "half" / "model.pt", halving=True)
    out = tmp_path / "report"
    assert (
        main(
            [
                "-q",
                "report",
                str(embedder),
                "--data",
                str(corpus / "seen"),
                "--out",
                str(out),
                "--trials",
                "4",
                "--conditions",
                "mixture",
                "--sweep",
                "--no-paper-figures",
                "--separator-systems",
                f"half={half}",
                "--separation-mixtures",
                "2",
            ]
        )
        == 0
    )
    text = (out / "REPORT.md").read_text()
    row = section_tables(text)["seen: unseen speakers (2 mixtures)"]["half"]
    pesqi, stoii = interval(row[3]), interval(row[4])
    assert pesqi == pytest.approx((0, 0, 0), abs=0.006) and stoii == pytest.approx((0, 0, 0), abs=0.0006)
    assert "--no-pesq" not in text and f"mirnet eval-separation {half} --data {corpus / 'seen'} --n 2" in text
    assert sorted(p.name for p in (out / "examples").iterdir()) == ["mixture0", "mixture1"]


@pytest.mark.parametrize(
    "specs, message",
    [
        (["{tmp}/nowhere"], "{tmp}/nowhere: no such checkpoint"),
        (["{emb}"], "this is an embedder (single), not a separator"),
        (["a={sep}", "a={sep}"], "separators share the label(s) a; name them LABEL=PATH"),
    ],
)
def test_bad_separator_systems_get_one_line_before_anything_is_scored(
    specs, message, embedder, corpus, tmp_path, capsys
):
    sep = save_separator(tmp_path / "sep" / "model.pt")
    fill = dict(tmp=tmp_path, emb=embedder, sep=sep)
    assert (
        main(
            [
                "-q",
                "report",
                str(embedder),
                "--data",
                str(corpus / "seen"),
                "--out",
                str(tmp_path / "out"),
                "--separator-systems",
                *[s.format(**fill) for s in specs],
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("mirnet: error: ") and message.format(**fill) in err and err.count("\n") == 1, err
    assert not (tmp_path / "out" / "evals").exists()


def test_separation_mixtures_must_be_a_size(capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "report",
                "x",
                "--data",
                "d",
                "--out",
                "o",
                "--separator-systems",
                "s",
                "--separation-mixtures",
                "0",
            ]
        )
    assert "--separation-mixtures" in capsys.readouterr().err
