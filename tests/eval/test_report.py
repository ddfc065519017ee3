"""The report's plan: labels, sweep axes, and the cache that lets an interrupted report resume
without re-scoring, but never reuses a result for another system or another trial list."""
from __future__ import annotations

import json

import pytest

from mirnet.eval import report
from mirnet.eval.report import Runner, Setting, System, epoch_models, parse_sweeps, parse_systems
from mirnet.eval.trials import trial_list_sha1


def test_systems_are_labelled_by_folder_peer_or_name():
    systems = parse_systems(["models/reference", "runs/x/model.pt", "resemblyzer", "t=models/reference/teacher"])
    assert [s.label for s in systems] == ["reference", "x", "resemblyzer", "t"]
    assert [s.is_peer for s in systems] == [False, False, True, False]
    with pytest.raises(ValueError, match="share the label.*reference"):
        parse_systems(["models/reference", "other/reference"])


@pytest.mark.parametrize("specs, expected", [
    (None, {k: v[1] for k, v in report.SWEEPS.items()}),
    ([], {}),
    (["sir=-5,5", "speakers"], {"sir": (-5.0, 5.0), "speakers": (2, 3)}),
    (["speakers=3"], {"speakers": (3,)}),
])
def test_sweep_axes(specs, expected):
    assert parse_sweeps(specs) == expected


@pytest.mark.parametrize("spec, message", [("snr=1", "unknown axis 'snr'"), ("speakers=2.5", "ints")])
def test_bad_sweep_axis_names_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_sweeps([spec])


def test_runner_reuses_only_the_same_system_on_the_same_trials(tmp_path, monkeypatch):
    calls = []

    def fake_evaluate(exp, data, *, trial_list, scores_file, **kw):
        calls.append((exp, kw["condition"]))
        if not trial_list.exists():
            trial_list.parent.mkdir(parents=True, exist_ok=True)
            trial_list.write_text("trials")
        scores_file.parent.mkdir(parents=True, exist_ok=True)
        scores_file.write_bytes(b"npz")
        return {"eer": 10.0, "system": fingerprint[exp], "metric": kw["metric"], "trial_list": str(trial_list),
                "trial_list_sha1": trial_list_sha1(trial_list), "condition": kw["condition"]}

    fingerprint = {"a": "sha-a", "b": "sha-b"}
    monkeypatch.setattr(report, "evaluate", fake_evaluate)
    monkeypatch.setattr(report, "system_fingerprint", lambda exp: fingerprint[exp])
    setting, half = Setting("corpus/unseen", 10, overlap=0.25), Setting("corpus/unseen", 10, overlap=0.5)
    run = Runner(tmp_path)
    run.result(System("A", "a"), setting, "mixture")
    run.result(System("A", "a"), half, "mixture")  # another setting, whose name differs only after a dot
    run.result(System("A", "a"), setting, "mixture")  # cached
    run.result(System("A", "a"), half, "mixture")  # cached too: its result did not overwrite the other
    run.result(System("A", "a"), setting, "clean")  # another condition
    run.result(System("B", "b"), setting, "mixture")  # another system
    assert calls == [("a", "mixture"), ("a", "mixture"), ("a", "clean"), ("b", "mixture")]
    run.trial_list(setting).write_text("other trials")  # the trial list changed under it
    Runner(tmp_path).result(System("A", "a"), setting, "mixture")
    assert len(calls) == 5
    fingerprint["a"] = "sha-a2"  # the model file changed
    Runner(tmp_path).result(System("A", "a"), setting, "mixture")
    assert calls[-1] == ("a", "mixture") and len(calls) == 6
    cached = json.loads((tmp_path / "evals" / "A" / f"{setting.name}_mixture.json").read_text())
    assert cached["system"] == "sha-a2" and cached["label"] == "A"


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
    assert epoch_models(run) == [(1, 1.0, run / "epochs" / "epoch001.pt"), (2, 2.5, run / "epochs" / "epoch002.pt")]
