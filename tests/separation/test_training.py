"""Separators trained by the one Trainer: uPIT and VoiceFilter conditioned on enrolled references,
through the same loop, checkpoints and exact resumption as the embedders."""

from __future__ import annotations

import csv
import shutil

import pytest
import torch

import mirnet
from mirnet.architectures import build_model
from mirnet.checkpoint import load_file, load_model
from mirnet.corpus import open_corpus
from mirnet.data.mixing import MixingConfig, MixtureDataset
from mirnet.errors import ConfigError, InputError
from mirnet.losses.signal import SeparationLoss, pairwise_neg_sisdr
from mirnet.progress import silent
from mirnet.separation.conditioning import Conditioner
from mirnet.train.experiment import load_experiment
from mirnet.train.objectives import SeparatorObjective
from mirnet.train.trainer import Trainer

from ..conftest import REPO

TINY_SEPARATOR = {"lstm_hidden": 32, "lstm_layers": 1, "fc_dim": 32}
TEACHER = REPO / "models" / "mirnet" / "teacher"  # the shipped clean single-speaker model


@pytest.fixture
def separator_config(tiny_config):
    def make(*overrides: str, model: dict | None = None):
        args = dict(model if model is not None else TINY_SEPARATOR)
        return tiny_config(
            "model.name=mask_separator",
            "data.crop_seconds=1.0",
            *overrides,
            *(f"model.args.{k}={v}" for k, v in args.items()),
            model=args,
        )

    return make


def _batch(corpus, n=4, enroll_seconds=0.0):
    manifest = open_corpus(corpus / "seen")
    data = MixtureDataset(
        manifest, MixingConfig(2, 1.0, (0.0, 0.0), enroll_seconds=enroll_seconds), n, seed=0
    )
    return torch.utils.data.default_collate([data[i] for i in range(n)])


def test_upit_training_logs_si_sdri_and_resumes_to_the_same_weights(separator_config, tmp_path, monkeypatch):
    cfg = separator_config("train.epochs=3")
    Trainer(cfg, tmp_path / "straight", progress=silent).run()

    broken = Trainer(cfg, tmp_path / "resumed", progress=silent)
    forward, calls = broken._forward, {"n": 0}

    def failing(batch):
        calls["n"] += 1
        if calls["n"] > 2 + 1 + 1:  # epoch 1 (2 steps), its validation, one step of epoch 2
            raise KeyboardInterrupt
        return forward(batch)

    monkeypatch.setattr(broken, "_forward", failing)
    with pytest.raises(KeyboardInterrupt):
        broken.run()
    Trainer(cfg, tmp_path / "resumed", progress=silent).run(resume=True)

    a, b = load_file(tmp_path / "straight" / "model.pt"), load_file(tmp_path / "resumed" / "model.pt")
    assert a["progress"]["step"] == b["progress"]["step"] == 6 and a["classifier"] is None
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    with (tmp_path / "resumed" / "epochs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and {"train_si_sdri", "val_si_sdr", "val_si_sdri"} <= set(rows[0])
    assert all(float(r["val_si_sdri"]) == float(r["val_si_sdri"]) for r in rows)  # logged, not NaN
    model, bundle = load_model(tmp_path / "straight")
    assert model.kind == "separator" and bundle["model"]["args"]["n_outputs"] == 2


TINY_BAND = {"dim": 16, "hidden": 16, "blocks": 1, "head_dim": 32}
TINY_TCN = {"dim": 32, "hidden": 64, "blocks": 4, "repeats": 1}
TINY_DPRNN = {"dim": 32, "hidden": 32, "blocks": 1, "chunk": 12}


@pytest.mark.parametrize(
    "name,args,cls",
    [
        ("band_separator", TINY_BAND, "BandSeparator"),
        ("tcn_separator", TINY_TCN, "TcnSeparator"),
        ("dprnn_separator", TINY_DPRNN, "DprnnSeparator"),
    ],
)
def test_other_separators_train_and_load_through_the_same_trainer(
    separator_config, tmp_path, name, args, cls
):
    """One epoch (2 steps) through the Trainer raises the SI-SDR on the first batch it trained on
    by over 3 dB (the untrained models start near -20 dB and gain 6-8), and the saved separator
    loads to the very model it trained: the same outputs."""
    cfg = separator_config(f"model.name={name}", "train.epochs=1", model=args)
    trainer = Trainer(cfg, tmp_path / name, progress=silent)
    batch = next(iter(trainer.loader(trainer.train_data, True)))  # the run's first batch

    def si_sdr():
        trainer.model.eval()
        with torch.no_grad():
            return float(trainer.objective(batch)[1]["si_sdr"])

    before = si_sdr()
    trainer.run()
    after = si_sdr()
    assert after > before + 3.0, f"SI-SDR {before:.1f} -> {after:.1f} dB"
    sep = mirnet.load_separator(tmp_path / name)
    wav = torch.randn(8000, generator=torch.Generator().manual_seed(0))
    assert type(sep.model).__name__ == cls and sep.separate(wav).shape == (2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(sep.model(batch["mixture"]), trainer.model(batch["mixture"]))


@pytest.mark.parametrize(
    "name,args,lr,steps",
    # the band-split model starts slower, then passes the other (16 dB against 12 after 120 steps)
    [
        ("mask_separator", TINY_SEPARATOR, 3e-3, 60),
        ("band_separator", TINY_BAND, 1e-2, 80),
        ("tcn_separator", TINY_TCN, 3e-3, 60),
        ("dprnn_separator", TINY_DPRNN, 3e-3, 60),
    ],
)
def test_upit_objective_learns_to_separate_a_fixed_batch(corpus, name, args, lr, steps):
    torch.manual_seed(0)
    batch = _batch(corpus)
    model = build_model(name, n_outputs=2, **args)
    loss_fn, opt = SeparationLoss(), torch.optim.Adam(model.parameters(), lr)
    for _ in range(steps):
        loss, logs = loss_fn(model(batch["mixture"]), batch["sources"], batch["mixture"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert logs["si_sdri"] > 6.0, f"SI-SDRi {float(logs['si_sdri']):.1f} dB after {steps} steps"


def test_a_pass_conditioned_on_a_sources_embedding_returns_that_source(corpus):
    """VoiceFilter on the shipped clean model's embeddings of other utterances of each voice:
    after a short fit, pass k's estimate is far closer to source k than to the other source."""
    torch.manual_seed(0)
    batch = _batch(corpus, enroll_seconds=1.0)
    conditioner = Conditioner(load_model(TEACHER)[0])
    assert conditioner.mode == "enrolled"
    emb = conditioner(batch)  # (4, 2, 192)
    model = build_model("mask_separator", n_outputs=1, embed_dim=emb.shape[-1], **TINY_SEPARATOR)
    loss_fn, opt = SeparationLoss(ordered=True), torch.optim.Adam(model.parameters(), 3e-3)
    mixture = batch["mixture"].repeat_interleave(2, 0)
    for _ in range(80):
        est = model(mixture, emb.flatten(0, 1)).view(4, 2, -1)
        loss, _ = loss_fn(est, batch["sources"], batch["mixture"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        sisdr = -pairwise_neg_sisdr(model(mixture, emb.flatten(0, 1)).view(4, 2, -1), batch["sources"])
    own, other = sisdr.diagonal(dim1=1, dim2=2), sisdr.flip(2).diagonal(dim1=1, dim2=2)
    assert (own - other).min() > 5.0, f"own - other SI-SDR per pass: {(own - other).tolist()}"


def test_a_voicefilter_started_from_a_upit_separator_begins_as_its_first_output_for_a_zero_embedding():
    torch.manual_seed(0)
    upit = build_model("mask_separator", n_outputs=2, mask="complex", **TINY_SEPARATOR).eval()
    vf = build_model("mask_separator", n_outputs=1, embed_dim=8, mask="complex", **TINY_SEPARATOR).eval()
    assert vf.start_from(upit.state_dict()) == []
    wav = torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(vf(wav, torch.zeros(2, 8)), upit(wav)[:, :1], rtol=1e-4, atol=1e-5)
        assert not torch.allclose(
            vf(wav, torch.randn(2, 8)), vf(wav, torch.randn(2, 8))
        )  # identities differ at once
    wider = build_model(
        "mask_separator", n_outputs=1, embed_dim=8, mask="complex", **{**TINY_SEPARATOR, "lstm_hidden": 48}
    ).eval()
    assert wider.start_from(upit.state_dict()) == []
    with torch.no_grad():
        torch.testing.assert_close(wider(wav, torch.zeros(2, 8)), upit(wav)[:, :1], rtol=1e-4, atol=1e-5)


def test_a_wider_separator_starts_as_the_narrower_one_and_its_new_units_learn(one_thread):
    torch.manual_seed(0)
    narrow = build_model(
        "mask_separator", n_outputs=2, mask="complex", **{**TINY_SEPARATOR, "lstm_layers": 2}
    ).eval()
    args = {
        **TINY_SEPARATOR,
        "lstm_layers": 2,
        "lstm_hidden": TINY_SEPARATOR["lstm_hidden"] * 2,
        "fc_dim": 48,
    }
    wide = build_model("mask_separator", n_outputs=2, mask="complex", **args)
    assert wide.start_from(narrow.state_dict()) == []
    wav = torch.randn(3, 8000)
    with torch.no_grad():
        torch.testing.assert_close(wide.eval()(wav), narrow(wav), rtol=1e-5, atol=1e-6)
    h = TINY_SEPARATOR["lstm_hidden"]
    hh = wide.rnn.weight_hh_l0
    # each gate's old rows (the wide model's gate blocks are 2h apart) read nothing from new units
    assert all(hh[g * 2 * h : g * 2 * h + h, h:].abs().sum() == 0 for g in range(4))
    wide(wav).pow(2).mean().backward()  # the zeros that keep new units silent still get a gradient
    assert hh.grad[:h, h:].abs().sum() > 0


def test_voicefilter_trains_with_its_conditioner_and_carries_it(separator_config, tmp_path, corpus):
    """The conditioner's model goes into the separator's experiment dir: the dir alone separates,
    after the embedder it was trained with is gone."""
    teacher = tmp_path / "teacher"
    shutil.copytree(TEACHER, teacher)
    cfg = separator_config(
        "train.epochs=1",
        "data.enroll_seconds=1.0",
        f"train.conditioner={teacher}",
        model={**TINY_SEPARATOR, "n_outputs": 1, "embed_dim": 192},
    )
    Trainer(cfg, tmp_path / "vf", progress=silent).run()
    bundle = load_file(tmp_path / "vf" / "model.pt")
    assert bundle["conditioner"] == {"file": "conditioner/model.pt", "source": str(teacher)}
    shutil.rmtree(teacher)

    sep = mirnet.load_separator(tmp_path / "vf")
    assert sep.mode == "enrolled"
    batch = _batch(corpus, n=1, enroll_seconds=1.0)
    refs = [r.numpy() for r in batch["enrollment"][0]]
    out = sep.separate(batch["mixture"][0], enrollment=refs)
    assert out.shape == (2, batch["mixture"].shape[-1]) and torch.isfinite(out).all()
    with pytest.raises(InputError, match="give one clean recording of each target"):
        sep.separate(batch["mixture"][0])
    swapped = mirnet.load_separator(tmp_path / "vf", conditioner=REPO / "models" / "mirnet")  # mismatch
    assert swapped.mode == "mixture" and swapped.separate(batch["mixture"][0]).shape == out.shape
    with pytest.raises(InputError, match="gives 256-dimensional embeddings"):
        mirnet.load_separator(tmp_path / "vf", conditioner="resemblyzer")


@pytest.mark.parametrize(
    "overrides, model, message",
    [
        ((), {"n_outputs": 3}, "data.n_speakers=2, but separator 'mask_separator' gives 3 output"),
        ((), {"embed_dim": 192}, "train.conditioner=None: a conditioned separator"),
        ((f"train.conditioner={TEACHER}",), {"embed_dim": 16, "n_outputs": 1}, None),
        (
            ("loss.mask_weight=1",),
            {},
            "loss.mask_weight=1.0: separator 'mask_separator' is trained by the signal",
        ),
        (
            ("loss.teacher_weight=1",),
            {},
            "loss.teacher_weight=1.0, train.teacher=None: a separator's identity",
        ),
        (("train.teacher=x",), {}, "loss.teacher_weight=0.0, train.teacher='x': a separator's identity"),
        (("train.separator=x",), {}, "train.separator: only embedders take one"),
    ],
)
def test_separator_configs_that_cannot_train_are_refused_at_start(
    overrides, model, message, separator_config, tmp_path
):
    args = ["model.name=mask_separator", *overrides, *(f"model.args.{k}={v}" for k, v in model.items())]
    if message is not None:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            load_experiment(None, args)
        return
    cfg = separator_config(*overrides, model={**TINY_SEPARATOR, **model})  # valid alone: the embedder decides
    with pytest.raises(
        ConfigError, match="gives 192-dimensional embeddings, the separator takes model.args.embed_dim=16"
    ):
        Trainer(cfg, tmp_path / "x", progress=silent)


class _Fixed(torch.nn.Module):
    """A 'separator' returning given outputs, with one parameter they are scaled by."""

    kind, embed_dim = "separator", 0

    def __init__(self, outputs: torch.Tensor):
        super().__init__()
        self.outputs, self.gain = outputs, torch.nn.Parameter(torch.ones(()))

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return self.gain * self.outputs


def test_the_identity_term_is_the_teachers_distance_to_the_assigned_source(corpus):
    """Stock resemblyzer as the separator's teacher: outputs that are the sources in the other
    order cost nothing (the term follows PIT's assignment), the two outputs each holding the
    mixture cost far more, and the term's gradient reaches the separator."""
    batch = _batch(corpus, n=2)
    teacher = load_model("resemblyzer")[0]
    flipped = SeparatorObjective(_Fixed(batch["sources"].flip(1)), teacher=teacher, teacher_weight=1.0)
    loss, logs = flipped(batch)
    assert float(logs["teacher"].detach()) < 1e-4 and (logs["perm"] == torch.tensor([1, 0])).all()
    mixed = SeparatorObjective(
        _Fixed(batch["mixture"][:, None].repeat(1, 2, 1)), teacher=teacher, teacher_weight=1.0
    )
    loss, logs = mixed(batch)
    assert float(logs["teacher"].detach()) > 0.05, float(logs["teacher"].detach())
    torch.manual_seed(0)
    noisy = SeparatorObjective(
        _Fixed(batch["sources"] + 0.05 * torch.randn_like(batch["sources"])),
        teacher=teacher,
        teacher_weight=1.0,
    )
    _, logs = noisy(batch)
    logs["teacher"].backward()
    assert noisy.model.gain.grad is not None and float(noisy.model.gain.grad) != 0.0
    assert not any(p.requires_grad for p in teacher.parameters())


def test_a_separator_trains_with_the_identity_term_and_ships_without_its_teacher(separator_config, tmp_path):
    cfg = separator_config("train.epochs=1", "train.teacher=resemblyzer", "loss.teacher_weight=0.5")
    Trainer(cfg, tmp_path / "sep", progress=silent).run()
    with (tmp_path / "sep" / "epochs.csv").open() as f:
        row = next(csv.DictReader(f))
    assert 0.0 < float(row["train_teacher"]) < 2.0 and 0.0 < float(row["val_teacher"]) < 2.0
    state = load_file(tmp_path / "sep" / "model.pt")["state_dict"]
    assert not any("teacher" in k for k in state), [k for k in state if "teacher" in k]
    sep = mirnet.load_separator(tmp_path / "sep")
    assert sep.separate(torch.randn(8000, generator=torch.Generator().manual_seed(0))).shape == (2, 8000)


def test_each_kind_refuses_the_loader_of_the_other(separator_config, tmp_path):
    Trainer(separator_config("train.epochs=1"), tmp_path / "sep", progress=silent).run()
    with pytest.raises(InputError, match="this is a separator \\(mask_separator\\), not an embedder"):
        mirnet.load(tmp_path / "sep")
    with pytest.raises(InputError, match="this is an embedder \\(single\\), not a separator"):
        mirnet.load_separator(TEACHER)
    with pytest.raises(InputError, match="a speaker-independent separator takes no conditioner"):
        mirnet.load_separator(tmp_path / "sep", conditioner=TEACHER)


class _Reversed(torch.nn.Module):
    """A 'separator' that returns a batch's true sources, last first: the oracle of the cascade."""

    kind, embed_dim = "separator", 0

    def __init__(self, sources: torch.Tensor):
        super().__init__()
        self.sources = sources

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return self.sources.flip(1)


def test_the_cascade_embedder_learns_each_output_under_the_label_of_its_source(corpus):
    from mirnet.losses.classification import SpeakerClassifier
    from mirnet.losses.mixture import MixtureLoss
    from mirnet.train.objectives import EmbedderObjective

    torch.manual_seed(0)
    batch = _batch(corpus, n=3)
    model = load_model(TEACHER)[0]
    loss = MixtureLoss(SpeakerClassifier(192, 16), teacher=model, teacher_weight=1.0).eval()
    behind = EmbedderObjective(model, loss, {}, separator=_Reversed(batch["sources"])).eval()
    with torch.no_grad():
        got, logs = behind(batch)
        want, _ = loss(
            model(batch["sources"].flatten(0, 1)),
            batch["labels"].reshape(-1, 1),
            batch["sources"].flatten(0, 1)[:, None],
            model.features,
        )
    torch.testing.assert_close(got, want)
    assert float(logs["teacher"].detach()) < 1e-5  # each output's teacher target is that very source


def test_a_cascade_embedder_trains_behind_a_trained_upit_separator(separator_config, tiny_config, tmp_path):
    Trainer(separator_config("train.epochs=1"), tmp_path / "sep", progress=silent).run()
    spk = {"speaker_net": {"name": "tdnn", "channels": 16, "pool_channels": 16, "embed_dim": 8}}
    cfg = tiny_config(
        "model.name=single",
        "train.epochs=1",
        f"train.separator={tmp_path / 'sep'}",
        "data.crop_seconds=1.0",
        model=spk,
    )
    result = Trainer(cfg, tmp_path / "cascade", progress=silent).run()
    assert 0 <= result["val_pit_acc"] <= 1 and result["train_ce"] > 0
    with pytest.raises(ConfigError, match="embeds each of its outputs alone"):
        load_experiment(None, [f"train.separator={tmp_path / 'sep'}"])  # a 2-speaker MIRNet
    with pytest.raises(ConfigError, match="is an embedder; the cascade needs a speaker-independent"):
        Trainer(
            tiny_config("model.name=single", f"train.separator={TEACHER}", model=spk),
            tmp_path / "x",
            progress=silent,
        )


def test_voicefilter_on_mirnets_identities_separates_from_the_mixture_alone(
    separator_config, tmp_path, corpus
):
    """The paper's system: no enrollment. The shipped MIRNet gives the mixture's two identities,
    one pass each; `mirnet separate` names which identity each file belongs to."""
    import json

    import soundfile as sf

    from mirnet.cli import main

    mirnet_dir = REPO / "models" / "mirnet"
    cfg = separator_config(
        "train.epochs=1",
        f"train.conditioner={mirnet_dir}",
        model={**TINY_SEPARATOR, "n_outputs": 1, "embed_dim": 192},
    )
    Trainer(cfg, tmp_path / "vf", progress=silent).run()
    sep = mirnet.load_separator(tmp_path / "vf")
    assert sep.mode == "mixture" and sep.n_outputs == 2
    mixture = _batch(corpus, n=1)["mixture"][0].numpy()
    sf.write(tmp_path / "mix.wav", mixture, 16000)
    assert (
        main(
            [
                "-q",
                "separate",
                str(tmp_path / "vf"),
                str(tmp_path / "mix.wav"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    meta = json.loads((tmp_path / "out" / "mix.json").read_text())
    assert meta["conditioning"] == "mixture" and [o["identity"] for o in meta["outputs"]] == [0, 1]
    assert all((tmp_path / "out" / o["file"]).is_file() for o in meta["outputs"])
