"""Every shipped YAML config loads (no unknown key, every type right) and builds its model; the
LibriSpeech recipe is the paper's setup on the paper's model."""
from __future__ import annotations

import pathlib

import pytest
import torch

from mirnet.config import ConfigError, load_config
from mirnet.models import build_model

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(CONFIG_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_and_builds_its_model(path):
    cfg = load_config(path)
    args = dict(cfg.model.args, **({"n_speakers": cfg.data.n_speakers} if cfg.model.name == "mirnet" else {}))
    with torch.device("meta"):  # shapes and argument names only: no memory, no time
        build_model(cfg.model.name, **args)


@pytest.mark.parametrize("value, expected", [("data/a", "data/a"), ("[data/a, b.jsonl]", ("data/a", "b.jsonl"))])
def test_data_train_is_one_source_or_a_list(value, expected):
    assert load_config(overrides=[f"data.train={value}"]).data.train == expected


def test_a_value_of_no_allowed_type_names_every_alternative():
    with pytest.raises(ConfigError, match="data.train: expected str, got int 3 or expected a list"):
        load_config(overrides=["data.train=3"])


def test_librispeech_recipe_is_the_paper_setup_on_the_paper_model():
    recipe = load_config(CONFIG_DIR / "recipes" / "librispeech_mirnet_paper.yaml")
    paper = load_config(CONFIG_DIR / "mirnet_paper.yaml")
    assert recipe.model == paper.model and recipe.loss.classifier == "linear"
    d = recipe.data
    assert d.train.endswith(".jsonl") and (d.n_speakers, d.crop_seconds, d.min_seconds) == (2, 3.0, 3.0)
    assert d.epoch_size * d.crop_seconds / 3600 == 93 and d.val_size * d.crop_seconds / 3600 == 15
