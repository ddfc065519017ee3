"""Shipped models by name, from any working directory: ``mirnet.load("reference")``, ``mirnet
embed reference ...``, ``load_separator("upit")``; a path that exists wins over a name, and a
name that is neither gets one line listing the names. A wheel built from the checkout carries
the models: installed into a new venv outside the repository, ``mirnet embed reference`` runs."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest
import torch

import mirnet
from mirnet import pretrained
from mirnet.architectures import build_model
from mirnet.checkpoint import model_bundle, model_fingerprint, resolve, save_atomic
from mirnet.cli import main

from .conftest import TINY_MODEL

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def mix(corpus, tmp_path):
    path = tmp_path / "mix.wav"
    assert main(["-q", "corpus", "mix", str(corpus / "unseen"), str(path), "--sir", "0", "--seed", "2"]) == 0
    return path


def test_every_shipped_name_resolves_to_its_folder_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, (folder, _) in pretrained.SHIPPED.items():
        assert resolve(name) == REPO / "models" / folder / "model.pt" and resolve(name).is_file(), name
        assert resolve(name + "/") == resolve(name)
    assert model_fingerprint("reference") == model_fingerprint(REPO / "models" / "reference")
    assert set(pretrained.describe().split()) >= set(pretrained.NAMES)


def test_load_by_name_is_load_by_path(mix, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    by_name = mirnet.load("reference", precision="fp32").embed_file(mix)
    by_path = mirnet.load(REPO / "models" / "reference", precision="fp32").embed_file(mix)
    assert by_name.shape == (2, 256) and torch.equal(by_name, by_path)
    assert mirnet.load_separator("upit").separate_file(mix).shape[0] == 2


def test_a_path_that_exists_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    model = build_model("single", speaker_net=TINY_MODEL["speaker_net"]).eval()
    save_atomic(model_bundle(model, []), tmp_path / "reference" / "model.pt")
    assert resolve("reference") == Path("reference") / "model.pt"
    assert mirnet.load("reference").embed_dim == TINY_MODEL["speaker_net"]["embed_dim"]


def test_neither_a_path_nor_a_name_is_one_line_listing_the_names(mix, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["embed", "referense", str(mix)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mirnet: error: referense: no such checkpoint"), err
    assert all(name in err for name in pretrained.NAMES) and "resemblyzer" in err


def test_embed_by_name_on_the_cli_from_another_folder(mix, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["embed", "reference", str(mix), "--out", "e.npy", "--precision", "fp32"]) == 0
    assert np.load(tmp_path / "e.npy").shape == (2, 256)


@pytest.mark.slow
def test_a_wheel_installed_outside_the_checkout_carries_the_models(mix, tmp_path):
    """The wheel is built from the checkout and installed, without its dependencies, into a new
    venv outside the repository that borrows this one's dependencies (a path file, so this
    venv's editable mirnet is not among them): no network, and the mirnet it runs is the wheel's."""
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("mirnet-*.whl")
    env_dir = tmp_path / "user-venv"
    venv.create(env_dir, with_pip=False)
    (site,) = (env_dir / "lib").glob("python*/site-packages")
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")
    python = env_dir / "bin" / "python"
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True, cwd=tmp_path
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [str(python), "-c", "import mirnet.pretrained as p; print(p.models_dir())"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout.strip()
    assert Path(where) == site / "mirnet" / "shipped_models", where
    run = [str(python), "-m", "mirnet.cli", "-q", "embed", "reference", str(mix), "--out", "e.npy"]
    subprocess.run([*run, "--precision", "fp32"], check=True, cwd=tmp_path, env=env)
    assert np.load(tmp_path / "e.npy").shape == (2, 256)
