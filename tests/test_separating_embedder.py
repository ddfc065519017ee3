"""The separating embedder: a trained separator and a trained single-speaker embedder composed
into one mixture embedder, which must give exactly what the cascade gives, load through
mirnet.load like MIRNet, refuse parts of the wrong kind in one line, and fine-tune through the
one Trainer with its separator frozen."""

from __future__ import annotations

import json
import math

import pytest
import torch

import mirnet
from mirnet.architectures import build_model
from mirnet.audio import load_audio
from mirnet.checkpoint import (
    CheckpointError,
    compose_models,
    load_file,
    load_model,
    model_bundle,
    read_bundle,
    save_atomic,
)
from mirnet.cli import main
from mirnet.errors import ConfigError
from mirnet.eval.protocol import cascade_embed
from mirnet.progress import silent
from mirnet.train.experiment import load_experiment
from mirnet.train.trainer import Trainer

from .conftest import REPO

MIRNET = REPO / "models" / "mirnet"

SEPARATOR = {
    "name": "mask_separator",
    "args": {"n_outputs": 2, "lstm_hidden": 16, "lstm_layers": 1, "fc_dim": 16},
}
EMBEDDER = {
    "name": "single",
    "args": {"speaker_net": {"name": "tdnn", "channels": 16, "pool_channels": 16, "embed_dim": 8}},
}


@pytest.fixture
def parts(tmp_path):
    torch.manual_seed(0)
    paths = {}
    for key, spec in (("separator", SEPARATOR), ("embedder", EMBEDDER)):
        model = build_model(spec["name"], **spec["args"])
        paths[key] = save_atomic(
            model_bundle(model, [], data={"heldout": [f"{key}-utt"]}), tmp_path / key / "model.pt"
        )
    return paths


@pytest.fixture
def mixtures(corpus):
    files = sorted((corpus / "seen").rglob("*.flac"))
    return torch.stack([torch.from_numpy(load_audio(f, frames=16000)) for f in files[:3]]) + torch.stack(
        [torch.from_numpy(load_audio(f, frames=16000)) for f in files[-3:]]
    )


def test_composed_model_gives_the_cascades_embeddings(parts, mixtures, tmp_path, one_thread):
    path = compose_models(parts["separator"].parent, parts["embedder"], tmp_path / "sepfront")
    model, bundle = load_model(path.parent)
    separator, embedder = load_model(parts["separator"])[0], load_model(parts["embedder"])[0]
    with torch.no_grad():
        got = model(mixtures).embeddings
        want = cascade_embed(separator, lambda w: embedder(w).embeddings)(mixtures)
    assert got.shape == (3, 2, 8) and model.n_speakers == 2 and model.embed_dim == 8
    torch.testing.assert_close(got, want)
    assert bundle["data"]["heldout"] == ["embedder-utt"]  # the embedder's held-out split
    assert bundle["data"]["composed_from"]["separator"]["source"] == str(parts["separator"].parent)
    emb = mirnet.load(path.parent).embed(mixtures[0].numpy())
    assert emb.shape == (2, 8)


def test_its_streams_reach_diarization_as_each_identitys_activity(parts, mixtures, tmp_path, one_thread):
    import soundfile as sf

    from mirnet.apps.diarization import DiarizationSettings, embed_windows, load_diarizer

    path = compose_models(parts["separator"].parent, parts["embedder"], tmp_path / "sepfront")
    model = mirnet.load(path.parent)
    emb, streams = model.embed_streams_batch(mixtures)
    separator = load_model(parts["separator"])[0]
    with torch.no_grad():
        torch.testing.assert_close(streams, separator(mixtures))
    assert emb.shape == (3, 2, 8)
    assert mirnet.load(MIRNET).embed_streams_batch(mixtures)[1] is None  # MIRNet has no streams
    wav = tmp_path / "long.wav"
    sf.write(wav, torch.cat([*mixtures, mixtures[0, :8000]]).numpy(), 16000)  # 3.5 s
    w = embed_windows(load_diarizer(path.parent), wav, DiarizationSettings(window=2.0, hop=1.0))
    assert len(w.shares) == len(w.outputs) == 3
    assert [s.shape for s in w.shares] == [(2, 200), (2, 200), (2, 150)]  # the last window: 1.5 s


def test_a_linked_composition_holds_no_weights_and_refuses_changed_parts(parts, mixtures, tmp_path, capsys):
    import shutil

    import soundfile as sf

    full = compose_models(parts["separator"], parts["embedder"], tmp_path / "full")
    args = [str(parts["separator"]), str(parts["embedder"]), "--out", str(tmp_path / "linked"), "--link"]
    assert main(["compose", *args]) == 0
    assert (tmp_path / "linked" / "model.pt").stat().st_size < full.stat().st_size / 2
    assert not load_file(tmp_path / "linked" / "model.pt")["state_dict"]
    # the parts and the link move together: each part is found relative to the link
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("separator", "embedder", "linked"):
        shutil.move(tmp_path / name, moved / name)
    with torch.no_grad():
        got = load_model(moved / "linked")[0](mixtures).embeddings
        torch.testing.assert_close(got, load_model(full)[0](mixtures).embeddings)
    separator = moved / "separator" / "model.pt"
    bundle = read_bundle(separator)
    bundle["state_dict"] = {k: v + 1 for k, v in bundle["state_dict"].items()}
    save_atomic(bundle, separator)  # retrained after the composition: the link no longer holds
    sf.write(tmp_path / "mix.wav", mixtures[0].numpy(), 16000)
    assert main(["embed", str(moved / "linked"), str(tmp_path / "mix.wav")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        f"{moved / 'linked' / 'model.pt'}: its separator {separator} has changed since it was composed" in err
    )
    assert err.endswith("compose it again") and "\n" not in err
    separator.unlink()
    with pytest.raises(CheckpointError, match="its separator .* is missing; compose it again"):
        read_bundle(moved / "linked")


def test_a_linked_part_is_loaded_from_the_very_bytes_its_fingerprint_was_checked_on(
    parts, mixtures, tmp_path, monkeypatch
):
    from pathlib import Path

    full = compose_models(parts["separator"], parts["embedder"], tmp_path / "full")
    linked = compose_models(parts["separator"], parts["embedder"], tmp_path / "linked", link=True)
    with torch.no_grad():
        expected = load_model(full)[0](mixtures).embeddings
    separator = parts["separator"].resolve()
    retrained = read_bundle(separator)
    retrained["state_dict"] = {k: v + 1 for k, v in retrained["state_dict"].items()}
    read_bytes = Path.read_bytes

    def retrained_right_after_reading(self: Path) -> bytes:
        data = read_bytes(self)
        if self.resolve() == separator:
            save_atomic(retrained, separator)  # a retrain lands between the check and the load
        return data

    monkeypatch.setattr(Path, "read_bytes", retrained_right_after_reading)
    with torch.no_grad():
        torch.testing.assert_close(load_model(linked)[0](mixtures).embeddings, expected)


def test_the_reports_systems_table_gives_a_composition_its_outputs_and_its_parts(parts, tmp_path):
    from mirnet.eval.report.markdown import system_rows
    from mirnet.eval.report.systems import parse_systems

    linked = compose_models(parts["separator"], parts["embedder"], tmp_path / "linked", link=True)
    (row,) = system_rows(parse_systems([f"pair={linked.parent}"]), None)  # no peer: no runner needed
    assert row[2] == "2"  # the separator's outputs, though the embedder gives one embedding per input
    assert row[3].startswith(f"composed of separator `{parts['separator']}`: ? epochs")
    assert f"; embedder `{parts['embedder']}`: ? epochs" in row[3]


def test_parts_of_the_wrong_kind_are_refused_in_one_line(parts, tmp_path, capsys):
    assert (
        main(["compose", str(parts["embedder"]), str(parts["embedder"]), "--out", str(tmp_path / "x")]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.endswith("model.args.separator: 'single' is an embedder, not a separator") and "\n" not in err
    with pytest.raises(CheckpointError, match="'mask_separator' is a separator, not an embedder"):
        compose_models(parts["separator"], parts["separator"], tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y" / "model.pt").exists()


@pytest.fixture
def fine_tune(parts, tiny_config, tmp_path, one_thread):
    """Train the composed tiny cascade for an epoch: (result, weights before, weights after)."""
    composed = compose_models(parts["separator"], parts["embedder"], tmp_path / "composed").parent

    def run(*overrides: str):
        cfg = tiny_config(
            "model.name=separating_embedder",
            f"train.init_from={composed}",
            "data.crop_seconds=1.0",
            "train.epochs=1",
            f"model.args.separator={json.dumps(SEPARATOR)}",
            f"model.args.embedder={json.dumps(EMBEDDER)}",
            *overrides,
            model={"separator": SEPARATOR, "embedder": EMBEDDER},
        )
        result = Trainer(cfg, tmp_path / "tuned", progress=silent).run()
        return result, read_bundle(composed)["state_dict"], read_bundle(tmp_path / "tuned")["state_dict"]

    return run


def test_fine_tuning_the_embedder_behind_a_frozen_separator(fine_tune):
    result, start, tuned = fine_tune("train.freeze=[separator]")
    assert result["train_ce"] > 0
    assert all(torch.equal(tuned[k], v) for k, v in start.items() if k.startswith("separator."))
    assert not torch.equal(
        tuned["embedder.speaker_net.embed.weight"], start["embedder.speaker_net.embed.weight"]
    )


def test_joint_fine_tuning_scores_the_streams_on_the_identity_losss_permutation(fine_tune):
    """With ``loss.signal_weight`` the separator learns too, and the signal term (the negative
    SI-SDR of each stream against the source the one permutation gave it) is logged."""
    result, start, tuned = fine_tune("loss.signal_weight=0.1")
    assert -60 < result["train_signal"] < 60 and math.isfinite(result["val_signal"])
    assert not torch.equal(tuned["separator.fc.0.weight"], start["separator.fc.0.weight"])
    with pytest.raises(ConfigError, match="loss.signal_weight=1.0 needs a model with separated streams"):
        load_experiment(None, ["loss.signal_weight=1"])  # the paper's MIRNet has none
    parts = [f"model.args.separator={json.dumps(SEPARATOR)}", f"model.args.embedder={json.dumps(EMBEDDER)}"]
    with pytest.raises(ConfigError, match="data.n_speakers=3, but model 'separating_embedder' gives 2"):
        load_experiment(None, ["model.name=separating_embedder", *parts, "data.n_speakers=3"])
