"""Fuzzing the config boundary: ``load_config`` and ``mirnet train --check`` on random overrides
(unknown keys, typos of real keys, wrong types, negative sizes, empty lists, unreadable YAML).
Whatever comes in, out comes a valid run (``--check``, exit status 0: corpus, data, model, loss and
optimizer built and one batch through model and loss) or one line naming the key, with exit
status 2; never a traceback.

Derandomized (the same examples every run) and bounded so the file runs in well under a minute:
sizes stay small (-2..64), so any model the overrides make builds and runs in milliseconds.
``--hypothesis-show-statistics`` shows how the examples split between runs and each error.
The crashes the fuzzing found are pinned as plain tests at the end.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import json
import typing

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mirnet.cli import main
from mirnet.config import ExperimentConfig
from mirnet.errors import ConfigError
from mirnet.features import LogMagnitudeSpectrum
from mirnet.models.attention import SpectralAttention
from mirnet.models.encoder import SpeechEncoder
from mirnet.models.speaker_nets import SPEAKER_NETS
from mirnet.train.experiment import load_experiment

FUZZ = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
MODEL = {
    "encoder": {"channels": [8, 8, 8, 8, 16], "norm": "batch"},
    "attention": {"hidden": 8, "out_dim": 16},
    "speaker_net": {"name": "tdnn", "channels": 8, "pool_channels": 16, "embed_dim": 8},
}
PARTS = {
    "features": LogMagnitudeSpectrum,
    "encoder": SpeechEncoder,
    "attention": SpectralAttention,
    **{f"speaker_net.{name}": cls for name, cls in SPEAKER_NETS.items()},
}


def _defaults() -> dict[str, typing.Any]:
    """Every key of the config and of the model's parts (those the parents set included) with
    its default (``inspect.Parameter.empty`` where there is none)."""
    keys = {"model.name": "mirnet", "model.args.n_speakers": 2, "model.args.speaker_net.name": "tdnn"}
    for section, values in ExperimentConfig().to_dict().items():
        if isinstance(values, dict) and section != "model":
            keys |= {f"{section}.{name}": value for name, value in values.items()}
    for part, cls in PARTS.items():
        keys |= {
            f"model.args.{part.split('.')[0]}.{name}": p.default
            for name, p in inspect.signature(cls).parameters.items()
        }
    del keys["data.train"]  # a random path could name a tree as big as the disk
    return dict(sorted(keys.items()))


DEFAULTS = _defaults()
KEYS = list(DEFAULTS)


@st.composite
def typos(draw) -> str:
    """A real key with its last name misspelt: a letter dropped, doubled or changed."""
    key = draw(st.sampled_from(KEYS))
    head, _, name = key.rpartition(".")
    i = draw(st.integers(0, len(name) - 1))
    name = draw(
        st.sampled_from(
            [
                name[:i] + name[i + 1 :],
                name[:i] + name[i] + name[i:],
                name[:i] + draw(st.sampled_from("aeiosx_")) + name[i + 1 :],
            ]
        )
    )
    return f"{head}.{name}" if head else name


SIZES = st.one_of(st.integers(1, 64), st.integers(-2, 0))
FLOATS = st.one_of(
    st.floats(-2, 10).map(lambda x: f"{x:.3g}"),
    st.sampled_from(["0.0", "1e-3", ".nan", ".inf", "-.inf", "2.5"]),
)
WORDS = st.sampled_from(
    [
        "abc",
        "''",
        "fp16",
        "bf16",
        "cpu",
        "cuda",
        "batch",
        "none",
        "shared",
        "residual",
        "tdnn",
        "resnet18",
        "single",
        "mirnet",
        "linear",
        "constant",
        "speaker_net",
        "encoder",
    ]
)
LISTS = st.one_of(
    st.lists(SIZES, max_size=6).map(json.dumps),
    st.lists(FLOATS, max_size=3).map(lambda v: f"[{', '.join(v)}]"),
)
VALUES = st.one_of(
    SIZES.map(str),
    FLOATS,
    WORDS,
    LISTS,
    st.sampled_from(["true", "false", "null", "{}", "{a: 1}", "[", "{", "a: b: c", "!!python/none"]),
)
KEY_KINDS = st.one_of(
    st.sampled_from(KEYS),
    typos(),
    st.sampled_from(
        [
            "bogus",
            "data.bogus",
            "model.args.bogus",
            "model.args.encoder.bogus.x",
            "data",
            "model.args.encoder",
            "model.args.speaker_net",
            "data.sir_db.x",
        ]
    ),
)


def like(default) -> st.SearchStrategy[str]:
    """Values of the default's type, so that the examples reach past type checks to ranges."""
    if isinstance(default, bool):
        return st.sampled_from(["true", "false"])
    if isinstance(default, (int, float)):
        return SIZES.map(str) if isinstance(default, int) else FLOATS
    if isinstance(default, str):
        return WORDS
    if isinstance(default, (list, tuple)) and all(isinstance(v, float) for v in default):
        return st.lists(FLOATS, max_size=3).map(lambda v: f"[{', '.join(v)}]")
    return st.lists(SIZES, max_size=6).map(json.dumps) if isinstance(default, (list, tuple)) else VALUES


TYPED = st.sampled_from(KEYS).flatmap(lambda key: like(DEFAULTS[key]).map(lambda value: f"{key}={value}"))
ANYTHING = st.builds(lambda k, v: f"{k}={v}", KEY_KINDS, VALUES)
OVERRIDES = st.lists(st.one_of(TYPED, TYPED, ANYTHING), min_size=1, max_size=3)  # 2 in 3 of the right type


@pytest.fixture(scope="module")
def tiny_yaml(corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("config-fuzz") / "tiny.yaml"
    path.write_text(
        json.dumps(
            {
                "data": {
                    "train": str(corpus / "seen"),
                    "epoch_size": 8,
                    "val_size": 4,
                    "batch_size": 4,
                    "workers": 0,
                    "crop_seconds": 1.0,
                },
                "model": {"name": "mirnet", "args": MODEL},
                "train": {"epochs": 1, "threads": 1, "log_every": 1, "precise_bn_batches": 1},
            }
        )
    )
    return path


def run_check(tiny_yaml, *overrides: str) -> tuple[int, str, str]:
    """``mirnet -q train TINY EXP --check OVERRIDES`` in this process: (status, stdout, stderr)."""
    out, err, threads = io.StringIO(), io.StringIO(), torch.get_num_threads()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(
                ["-q", "train", str(tiny_yaml), str(tiny_yaml.parent / "exp"), "--check", *overrides]
            )
    finally:
        torch.set_num_threads(threads)  # train.threads is process-wide
    return status, out.getvalue(), err.getvalue()


def _label(message: str) -> str:
    """What statistics count an error by: its key."""
    return message.split(":")[0].split("=")[0].split("[")[0]


def assert_one_line_error(status: int, err: str) -> str:
    assert (
        status == 2 and err.startswith("mirnet: error: ") and err.count("\n") == 1 and "Traceback" not in err
    ), err
    return err


@pytest.mark.slow
@settings(max_examples=1000, **FUZZ)
@given(overrides=OVERRIDES)
def test_load_config_on_random_overrides(tiny_yaml, overrides):
    """A config, or a ConfigError in one line: never another exception."""
    try:
        load_experiment(tiny_yaml, overrides)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        event(_label(str(exc).removeprefix(f"{tiny_yaml}: ")))
    else:
        event("loaded")


@pytest.mark.slow
@settings(max_examples=400, **FUZZ)
@given(overrides=OVERRIDES)
def test_train_check_on_random_overrides(tiny_yaml, overrides):
    """Exit status 0 with the run's summary, or 2 with one line: never a traceback."""
    status, out, err = run_check(tiny_yaml, *overrides)
    if status == 0:
        event("valid run")
        assert "steps of" in out and out.count("\n") == 1 and not err
    else:
        event(_label(assert_one_line_error(status, err).removeprefix(f"mirnet: error: {tiny_yaml}: ")))


def test_the_tiny_config_is_a_valid_run(tiny_yaml):
    status, out, err = run_check(tiny_yaml)
    assert status == 0 and not err, err
    assert "2 steps of 4 mixtures per epoch x 1 epochs" in out and " speaker classes, " in out
    assert not (tiny_yaml.parent / "exp").exists()  # --check writes nothing


# -- what the fuzzing found, and the two reports: each a traceback from deep inside (or a
# -- run that failed after its start) before the fix; the comment says which


@pytest.mark.parametrize(
    "override, message",
    [
        # TypeError from the constructors: the typo, a wrong type, a key the parent model sets
        (
            "model.args.encoder.chanels=[8]",
            "model.args.encoder.chanels: unknown argument; SpeechEncoder takes channels, "
            "kernels, out_channels",
        ),
        ("model.args.encoder.channels=abc", "model.args.encoder.channels: expected a list, got 'abc'"),
        ("model.args.encoder.kernels=5", "model.args.encoder.kernels: expected a list, got 5"),
        (
            "model.args.encoder.context_layers=8.75",
            "model.args.encoder.context_layers: expected int, got float 8.75",
        ),
        ("model.args.speaker_net.in_dim=63", "model.args.speaker_net.in_dim: set by the enclosing model"),
        ("model.args.speaker_net=residual", "model.args.speaker_net: expected dict, got str 'residual'"),
        (
            "model.args.speaker_net.name=[20, 25]",
            "model.args.speaker_net.name: unknown speaker network [20, 25]",
        ),
        # KeyError 'name': a speaker network without a name
        (
            "model.args.speaker_net={channels: 8}",
            "model.args.speaker_net.channels: unknown argument; ResNet18 takes",
        ),
        # RuntimeError from torch (a size of 0, a window of 0 samples), ZeroDivisionError, IndexError
        ("model.args.attention.hidden=0", "model.args.attention.hidden: expected a whole number >= 1, got 0"),
        (
            "model.args.speaker_net.embed_dim=0",
            "model.args.speaker_net.embed_dim: expected a whole number >= 1, got 0",
        ),
        ("model.args.n_speakers=0", "model.args.n_speakers: expected a whole number >= 1, got 0"),
        ("model.args.features.win_ms=0", "model.args.features.win_ms: expected a number > 0, got 0.0"),
        (
            "model.args.features.hop_ms=0.01",
            "model.args.features.hop_ms: the hop (0.01 ms) must be at least one sample",
        ),
        (
            "model.args.encoder.context_layers=-1",
            "model.args.encoder.context_layers: expected a whole number >= 0",
        ),
        # OverflowError / ValueError converting an infinite or NaN float to int
        ("model.args.features.win_ms=.inf", "model.args.features.win_ms: expected a finite number, got inf"),
        ("data.crop_seconds=.nan", "data.crop_seconds: expected a finite number, got nan"),
        ("data.sir_db=[.inf, 0]", "data.sir_db[0]: expected a finite number, got inf"),
        # ValueError in the first batch: a PIT matrix of 41 outputs for 2 speakers; the residual
        # output of 16 bins added to a 257-bin spectrum
        (
            "model.args.n_speakers=41",
            "data.n_speakers=2, but model 'mirnet' gives 41 embedding(s) per mixture",
        ),
        (
            "model.args.attention.output=residual",
            "model.args.attention.out_dim: output 'residual' adds to the 257-bin spectrum, got out_dim=16",
        ),
        # RuntimeError from torch.stft's padding; a crop of 0 s: '10 consecutive mixtures hit unreadable files'
        (
            "data.crop_seconds=1e-3",
            "data.crop_seconds=0.001: shorter than the model's shortest input, 0.016 s",
        ),
        ("data.crop_seconds=0", "data.crop_seconds: expected a number > 0, got 0.0"),
        # ValueError from numpy: SIR drawn from [3e-49, 0]
        ("data.sir_db=[3.38e-49, 0]", "data.sir_db: expected [low, high] with low <= high"),
        # KeyError: a speed factor of 0 rounds to the label of no class
        ("data.speed_perturb=[0]", "data.speed_perturb[0]: expected a number >= 0.5, got 0.0"),
        # ValueError 'cannot mix 2 distinct ones' in the first batch: every utterance held out
        ("data.val_fraction=57", "data.val_fraction: expected a number < 1, got 57.0"),
        # ValueError / ZeroDivisionError from the DataLoader, the samplers, the loop and validation
        ("data.workers=-1", "data.workers: expected a whole number >= 0, got -1"),
        ("data.batch_size=0", "data.batch_size: expected a whole number >= 1, got 0"),
        ("data.val_size=0", "data.val_size: expected a whole number >= 1, got 0"),
        (
            "data.epoch_size=2",
            "data.epoch_size=2 is smaller than data.batch_size=4",
        ),  # the issue: UnboundLocalError 'lr'
        ("train.threads=0", "train.threads: expected a whole number >= 1, got 0"),
        ("train.log_every=0", "train.log_every: expected a whole number >= 1, got 0"),
        ("train.precise_bn_batches=-2", "train.precise_bn_batches: expected a whole number >= 0, got -2"),
        # ValueError from Adam, from the classifier, from the BCE (a weight of -inf)
        ("optim.lr=.nan", "optim.lr: expected a finite number, got nan"),
        ("optim.weight_decay=-2", "optim.weight_decay: expected a number >= 0, got -2.0"),
        ("loss.classifier=resnet18", "loss.classifier: expected one of linear, cosine, got 'resnet18'"),
        ("loss.attention_weight=-.inf", "loss.attention_weight: expected a finite number, got -inf"),
        # yaml.YAMLError, a multi-line message
        (
            "model.args.encoder=[",
            "override model.args.encoder: cannot read '[' as a YAML value (expected the node content",
        ),
        (
            "seed=!!python/none",
            "override seed: cannot read '!!python/none' as a YAML value (could not determine a constructor",
        ),
    ],
)
def test_found_by_fuzzing(tiny_yaml, override, message):
    with pytest.raises(ConfigError) as err:
        load_experiment(tiny_yaml, [override])
    assert message in str(err.value)
    assert message in assert_one_line_error(*run_check(tiny_yaml, override)[::2])


@pytest.mark.parametrize(
    "override, message",
    [
        # ValueError from MixtureLoss; from the loss at the first step (a model without masks)
        ("loss.teacher_weight=0.2", "loss.teacher_weight=0.2 needs a teacher model: set train.teacher"),
        ("loss.mask_weight=1e-3", "loss.mask_weight=0.001 needs a model with log-domain masks"),
        # ValueError (not a project error): a part the model does not have
        ("train.freeze=[1e-3]", "train.freeze: model has no part '1e-3'; its parts are features, encoder"),
        # ValueError 'cannot mix 50 distinct ones' from the first batch: more than the corpus has; every
        # utterance shorter than data.min_seconds
        ("data.n_speakers=50", "data.n_speakers=50: the training utterances of"),
        ("data.min_seconds=100", "come from 0 speaker(s)"),
    ],
)
def test_found_by_fuzzing_at_start_up(tiny_yaml, override, message):
    assert message in assert_one_line_error(*run_check(tiny_yaml, override)[::2])


def test_a_yaml_float_in_model_arguments_is_a_float(tiny_yaml):
    """YAML 1.1 reads 1e-3 as a string: features.eps=1e-3 reached the STFT as 'str' (TypeError)."""
    from mirnet.architectures import build_model

    cfg = load_experiment(tiny_yaml, ["model.args.features.eps=1e-3"])
    assert build_model(cfg.model.name, **cfg.model.args).features.eps == 1e-3


def test_tensorboard_without_its_package_stops_the_check(tiny_yaml):
    """Found by running what --check passed: the import failed at the start of training, not at the check."""
    status, out, err = run_check(tiny_yaml, "train.tensorboard=true")
    if importlib.util.find_spec("tensorboard") is None:
        assert "train.tensorboard=true needs the tensorboard package" in assert_one_line_error(status, err)
    else:
        assert status == 0, err
