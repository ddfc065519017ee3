"""Every shipped YAML config loads (no unknown key, every type right) and builds its model; the
LibriSpeech recipe is the paper's setup on the paper's model; a bad key or value, in model
arguments too, is refused at load with its key named."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence

import pytest
import torch

from mirnet.architectures import build_model, describe, model_args, model_from_config
from mirnet.arguments import Size, coerce
from mirnet.config import DataConfig
from mirnet.data.mixing import MixingConfig
from mirnet.errors import ConfigError
from mirnet.train.build import mixing_config
from mirnet.train.experiment import load_experiment

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(CONFIG_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_and_builds_its_model_which_describes_itself(path):
    """The description rebuilds the same network: every parameter name and shape."""
    cfg = load_experiment(path)
    with torch.device("meta"):  # shapes and argument names only: no memory, no time
        model = model_from_config(cfg.model, cfg.data.n_speakers)
        spec = describe(model)
        again = build_model(spec["name"], **spec["args"])
    assert spec["name"] == cfg.model.name
    assert {k: v.shape for k, v in again.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    assert describe(again) == spec


def test_a_model_built_outside_the_registry_cannot_describe_itself():
    from mirnet.separation import MaskSeparator

    with torch.device("meta"), pytest.raises(ConfigError, match="MaskSeparator built outside build_model"):
        describe(MaskSeparator(n_outputs=2, lstm_hidden=8, lstm_layers=1, fc_dim=8))


@pytest.mark.parametrize(
    "value, expected", [("data/a", "data/a"), ("[data/a, b.jsonl]", ("data/a", "b.jsonl"))]
)
def test_data_train_is_one_source_or_a_list(value, expected):
    assert load_experiment(overrides=[f"data.train={value}"]).data.train == expected


def test_a_value_of_no_allowed_type_names_every_alternative():
    with pytest.raises(ConfigError, match="data.train: expected str, got int 3 or expected a list"):
        load_experiment(overrides=["data.train=3"])


def test_librispeech_recipe_is_the_paper_setup_on_the_paper_model():
    recipe = load_experiment(CONFIG_DIR / "recipes" / "librispeech_mirnet_paper.yaml")
    paper = load_experiment(CONFIG_DIR / "mirnet_paper.yaml")
    assert recipe.model == paper.model and recipe.loss.classifier == "linear"
    d = recipe.data
    assert d.train.endswith(".jsonl") and (d.n_speakers, d.crop_seconds, d.min_seconds) == (2, 3.0, 3.0)
    assert d.epoch_size * d.crop_seconds / 3600 == 93 and d.val_size * d.crop_seconds / 3600 == 15


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["model.args.encoder.chanels=[8]"],
            "model.args.encoder.chanels: unknown argument; SpeechEncoder takes channels, "
            "kernels, out_channels, negative_slope, norm, dilations, context_layers",
        ),
        (
            ["model.args.attention.channels=8"],
            "model.args.attention.channels: set by the enclosing model, not by the "
            "config; SpectralAttention takes hidden, out_dim",
        ),
        (
            ["model.args.encoder.channels=[8, 0]"],
            "model.args.encoder.channels[1]: expected a whole number >= 1, got 0",
        ),
        (
            ["model.args.encoder.norm=layer"],
            "model.args.encoder.norm: expected one of none, batch, got 'layer'",
        ),
        (
            ["model.args.encoder.kernels=[1]"],
            "model.args.encoder.kernels: need one kernel per layer: 6 layers, got 1",
        ),
        (["model.args.speaker_net.widths=[]"], "model.args.speaker_net.widths: expected a non-empty list"),
        (
            ["model.args.speaker_net.blocks=[2]"],
            "model.args.speaker_net.blocks: need one block count per stage: 4 widths",
        ),
        (
            ["model.args.speaker_net={name: tdnn, kernels: [5, 3]}"],
            "model.args.speaker_net.dilations: need one per layer: 2 kernels, got 4 dilations",
        ),
        (
            ["data.n_speakers=3", "model.args.encoder.out_channels=100"],
            "model.args.encoder.out_channels: 100 channels do not split into n_speakers=3 equal blocks",
        ),
        (
            ["model.args.features.n_fft=256"],
            "model.args.features.win_ms: the window (512 samples) must hold 1 to n_fft=256 samples",
        ),
        (
            ["model.name=single", "data.n_speakers=1", "model.args.speaker_net.chanels=8"],
            "model.args.speaker_net.chanels: unknown argument; TDNN takes embed_dim, channels",
        ),
        (
            ["model.name=single", "data.n_speakers=1", "model.args.encoder={}"],
            "model.args.encoder: unknown argument; SingleSpeakerNet takes features, speaker_net",
        ),
        (["model.name=single"], "data.n_speakers=2, but model 'single' gives 1 embedding(s) per mixture"),
    ],
)
def test_model_arguments_are_checked_against_the_constructors_at_load(overrides, message):
    """Each part of the model checks the arguments it is given against its own annotations and
    names the key from model.args down; the parts a parent derives are not the config's to set."""
    with pytest.raises(ConfigError) as err:
        load_experiment(None, overrides)
    assert str(err.value).startswith(f"config: {message}")


def test_build_model_checks_its_arguments_outside_a_config_too():
    with pytest.raises(ConfigError, match=r"^model.args.encoder.chanels: unknown argument"):
        build_model("mirnet", encoder={"chanels": [8]})
    with pytest.raises(ConfigError, match=r"^model.args.encoder.channels: expected a list, got 'abc'"):
        build_model("mirnet", encoder={"channels": "abc"})


def test_sequences_and_bounds_are_coerced_element_by_element():
    assert coerce([1, 2], Sequence[Size], "k") == (1, 2)
    assert coerce([1, "2.5"], tuple[float, ...], "k") == (1.0, 2.5)
    with pytest.raises(ConfigError, match=r"^k\[1\]: expected a whole number >= 1, got 0$"):
        coerce([1, 0], Sequence[Size], "k")
    with pytest.raises(ConfigError, match="^k: expected a list, got '12'$"):
        coerce("12", Sequence[int], "k")  # a string is a sequence to Python, not to a config
    with pytest.raises(ConfigError, match="^k: expected a finite number, got inf$"):
        coerce(float("inf"), float, "k")


def test_models_that_take_a_speaker_count_get_the_datas():
    assert model_args("mirnet", {}, 3) == {"n_speakers": 3}
    assert model_args("mirnet", {"n_speakers": 2}, 3) == {
        "n_speakers": 2
    }  # then load_config names the mismatch
    assert model_args("single", {"features": {}}, 1) == {"features": {}}


def test_a_bad_override_value_is_one_line():
    with pytest.raises(ConfigError) as err:
        load_experiment(None, ["data.sir_db=[1, 2"])
    assert str(err.value).startswith("override data.sir_db: cannot read '[1, 2' as a YAML value (")
    assert "\n" not in str(err.value)


def test_the_data_section_carries_every_mixing_option_under_its_own_name():
    """`data.*` is where MixingConfig's options are set: a field added to one and not the other,
    or a default that drifts, would train on other mixtures than the docs say."""
    data_defaults = {f.name: f.default for f in dataclasses.fields(DataConfig)}
    for f in dataclasses.fields(MixingConfig):
        assert f.name in data_defaults and data_defaults[f.name] == f.default, f.name
    cfg = load_experiment(
        None,
        [
            "data.sir_db=[-2,2]",
            "data.speed_perturb=[0.9,1.0]",
            "data.enroll_seconds=1.5",
            "data.n_speakers=3",
        ],
    )
    assert mixing_config(cfg.data) == MixingConfig(3, 3.0, (-2.0, 2.0), (1.0, 1.0), (0.9, 1.0), 1.5)
