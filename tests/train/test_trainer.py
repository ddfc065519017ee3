"""Training behaviour on real synthesized mixtures: it learns, it resumes exactly, it saves
self-describing checkpoints atomically."""

from __future__ import annotations

import pytest
import torch

from mirnet.architectures import build_model
from mirnet.checkpoint import CheckpointError, load_file, load_model, save_atomic
from mirnet.errors import ConfigError
from mirnet.losses.classification import SpeakerClassifier
from mirnet.losses.mixture import MixtureLoss
from mirnet.progress import bars, silent
from mirnet.train.experiment import load_experiment
from mirnet.train.trainer import Trainer

from ..conftest import TINY_MODEL


def test_overfits_a_fixed_batch_of_8_mixtures_to_full_pit_accuracy(tiny_config, tmp_path):
    """The Trainer's own step (``Trainer.optimizer_step``: its learning rate, gradient clipping,
    optimizer and objective), repeated on one batch, fits it: full PIT accuracy in eval mode."""
    torch.manual_seed(0)
    cfg = tiny_config("optim.lr=3e-3", "optim.schedule=constant", "optim.warmup_steps=1")
    trainer = Trainer(cfg, tmp_path / "exp", progress=silent)
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_data, batch_size=8)))
    for step in range(300):
        trainer.model.train()
        lr, values, retries = trainer.optimizer_step((batch,))
        assert lr == 3e-3 and retries == 0 and trainer.step == step + 1
        if step % 10 == 9:  # judged in eval mode: BatchNorm's running statistics must have caught up
            trainer.model.eval()
            with torch.no_grad():
                _, logs = trainer.objective(batch)
            if logs["pit_acc"] == 1.0:
                break
    assert logs["pit_acc"] == 1.0, f"PIT accuracy {logs['pit_acc']:.2f} after {step + 1} steps"
    assert values["loss"] < 1.0, values  # the logged training loss of the last step


def _interrupt_after(trainer, n_calls, monkeypatch):
    calls = {"n": 0}
    forward = trainer._forward

    def failing(batch):
        calls["n"] += 1
        if calls["n"] > n_calls:
            raise KeyboardInterrupt
        return forward(batch)

    monkeypatch.setattr(trainer, "_forward", failing)


def test_resume_after_an_interrupted_epoch_gives_the_same_weights(tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config("train.epochs=3", "loss.attention_weight=0.5")
    Trainer(cfg, tmp_path / "straight", progress=silent).run()

    broken = Trainer(cfg, tmp_path / "resumed", progress=silent)
    _interrupt_after(broken, 2 + 1 + 1, monkeypatch)  # epoch 1 (2 steps) + validation (1) + 1 step of epoch 2
    with pytest.raises(KeyboardInterrupt):
        broken.run()
    assert load_file(tmp_path / "resumed" / "checkpoint.pt")["epoch"] == 1
    Trainer(cfg, tmp_path / "resumed", progress=silent).run(resume=True)

    a, b = load_file(tmp_path / "straight" / "model.pt"), load_file(tmp_path / "resumed" / "model.pt")
    assert a["progress"]["step"] == b["progress"]["step"] == 6
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    assert torch.equal(a["classifier"]["state_dict"]["weight"], b["classifier"]["state_dict"]["weight"])
    assert (tmp_path / "resumed" / "epochs.csv").read_text().count("\n") == 4  # header + 3 epochs


def test_checkpoint_describes_itself(tiny_config, tmp_path, corpus):
    exp = tmp_path / "exp"
    Trainer(tiny_config("train.epochs=1"), exp, progress=silent).run()
    model, bundle = load_model(exp)
    assert bundle["model"]["name"] == "mirnet" and bundle["model"]["args"]["n_speakers"] == 2
    assert bundle["speakers"] == sorted(p.name for p in (corpus / "seen").iterdir())
    assert bundle["data"]["fingerprint"] and bundle["data"]["heldout"] and bundle["config"]["seed"] == 0
    assert (exp / "config.yaml").exists() and load_experiment(exp / "config.yaml").data.epoch_size == 16
    with torch.no_grad():
        assert model(torch.randn(1, 16000)).embeddings.shape == (1, 2, 32)


def test_existing_run_needs_resume(tiny_config, tmp_path):
    Trainer(tiny_config("train.epochs=1"), tmp_path / "exp", progress=silent).run()
    with pytest.raises(FileExistsError, match="--resume"):
        Trainer(tiny_config("train.epochs=1"), tmp_path / "exp", progress=silent).run()


def test_checkpoint_errors_name_the_file(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"nope")
    with pytest.raises(CheckpointError, match="model.pt: unreadable checkpoint"):
        load_model(bad)
    other = build_model(
        "single", speaker_net={"name": "tdnn", "channels": 8, "pool_channels": 8, "embed_dim": 4}
    )
    save_atomic(
        {
            "format": "mirnet-model-1",
            "model": {"name": "mirnet", "args": {"n_speakers": 2, **TINY_MODEL}},
            "state_dict": other.state_dict(),
        },
        bad,
    )
    with pytest.raises(CheckpointError, match="does not fit model 'mirnet'"):
        load_model(bad)


def test_teacher_term_needs_a_teacher():
    with pytest.raises(ValueError, match="teacher"):
        MixtureLoss(SpeakerClassifier(4, 3), teacher_weight=1.0)


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.crop_secs=3", "unknown config key"),
        ("optim.lr=fast", "optim.lr: expected float"),
        ("data.sir_db=[1]", "list of 2"),
        ("train.epochs=2.5", "train.epochs: expected int"),
        ("train.precision=fp8", "train.precision: expected one of fp32, bf16, fp16"),
        ("train.accumulate=0", "train.accumulate: expected a whole number >= 1"),
        ("loss.masr.combine=xor", "loss.masr.combine: expected one of weighted, or"),
        ("loss.masr.sources={engine: -1}", "loss.masr.sources: at least one source needs a positive weight"),
        ("loss.masr.sources={gender: heavy}", "loss.masr.sources.gender: expected float"),
        ("loss.masr.threshold=2", "loss.masr.threshold: expected a number <= 1"),
    ],
)
def test_config_errors_name_the_key(override, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        load_experiment(None, [override])
    path = tmp_path / "bad.yaml"
    path.write_text("data: [1, 2]\n")
    with pytest.raises(ConfigError, match="bad.yaml: data: expected a mapping"):
        load_experiment(path)


@pytest.mark.parametrize("n_batches", [1, 3])
def test_precise_batchnorm_uses_exact_averages_of_the_batches(n_batches):
    from mirnet.train.trainer import recompute_batchnorm

    torch.manual_seed(0)
    model = build_model(
        "single", speaker_net={"name": "tdnn", "channels": 8, "pool_channels": 8, "embed_dim": 4}
    )
    batches = [{"mixture": torch.randn(4, 8000)} for _ in range(n_batches)]
    recompute_batchnorm(model.eval(), batches)
    feats = torch.cat([model.features(b["mixture"]) for b in batches])
    first = model.speaker_net.frames[0](feats)
    torch.testing.assert_close(
        model.speaker_net.frames[1].running_mean, first.mean(dim=(0, 2)), rtol=1e-4, atol=1e-5
    )
    assert not model.training and model.speaker_net.frames[1].momentum == 0.1


def test_start_from_distil_toward_and_freeze_a_clean_single_speaker_model(tiny_config, tmp_path):
    spk = {"name": "tdnn", "channels": 24, "pool_channels": 32, "embed_dim": 16, "stride": 2}
    single = tmp_path / "single"
    cfg = tiny_config("train.epochs=1", "data.n_speakers=1", "model.name=single", model={"speaker_net": spk})
    Trainer(cfg, single, progress=silent).run()
    teacher = load_file(single / "model.pt")

    mixed = {
        "encoder": {"channels": [16] * 5, "norm": "batch"},
        "attention": {"output": "residual"},
        "speaker_net": spk,
    }
    cfg = tiny_config(
        f"train.init_from={single}", f"train.teacher={single}", "loss.teacher_weight=10", model=mixed
    )
    trainer = Trainer(cfg, tmp_path / "mirnet", progress=silent)
    for k, v in trainer.model.speaker_net.state_dict().items():
        assert torch.equal(v, teacher["state_dict"][f"speaker_net.{k}"]), k
    assert torch.equal(trainer.classifier.weight, teacher["classifier"]["state_dict"]["weight"])
    trainer.run()
    rows = (tmp_path / "mirnet" / "steps.csv").read_text().splitlines()
    column = rows[0].split(",").index("teacher")
    assert all(float(r.split(",")[column]) > 0 for r in rows[1:])  # the distillation term was trained

    other = {**mixed, "speaker_net": {**spk, "channels": 8}}
    with pytest.raises(ValueError, match="speaker network does not match"):
        Trainer(tiny_config(f"train.init_from={single}", model=other), tmp_path / "x", progress=silent)

    # frozen: the speaker network leaves training exactly the clean model, BatchNorm statistics
    # included, while the front end learns
    frozen = Trainer(
        tiny_config(f"train.init_from={single}", "train.freeze=[speaker_net]", model=mixed),
        tmp_path / "frozen",
        progress=silent,
    )
    encoder_before = {k: v.clone() for k, v in frozen.model.encoder.state_dict().items()}
    frozen.run()
    state = load_file(tmp_path / "frozen" / "model.pt")["state_dict"]
    for k, v in teacher["state_dict"].items():
        if k.startswith("speaker_net."):
            assert torch.equal(state[k], v), k
    assert any(not torch.equal(state[f"encoder.{k}"], v) for k, v in encoder_before.items())
    with pytest.raises(ValueError, match="no part 'speaker_nte'.*speaker_net"):
        Trainer(tiny_config("train.freeze=[speaker_nte]"), tmp_path / "y", progress=silent)


def test_speed_perturbed_speakers_are_classes_of_their_own(tiny_config, tmp_path, corpus):
    trainer = Trainer(
        tiny_config("data.speed_perturb=[0.9, 1.0, 1.1]", "train.epochs=1"), tmp_path / "sp", progress=silent
    )
    base = sorted(p.name for p in (corpus / "seen").iterdir())
    assert trainer.speakers[: len(base)] == base and len(trainer.speakers) == 3 * len(base)
    assert trainer.classifier.weight.shape[0] == 3 * len(base) and trainer.provenance["speakers"] == len(base)
    trainer.run()
    with pytest.raises(ConfigError, match="non-empty list"):
        load_experiment(None, ["data.speed_perturb=[]"])


def test_dataloader_workers_give_the_same_stream_as_the_main_process(tiny_config, tmp_path):
    """Mixing is a function of (seed, epoch, index), not of the process that draws it: two
    workers hand the loop the very batches one process makes, in the same order."""

    def stream(workers: int) -> list[dict]:
        trainer = Trainer(tiny_config(f"data.workers={workers}"), tmp_path / f"w{workers}", progress=silent)
        trainer.train_data.set_epoch(1)
        trainer.epoch = 1
        return list(trainer.loader(trainer.train_data, True))

    alone, pooled = stream(0), stream(2)
    assert len(alone) == len(pooled) == 2
    for a, b in zip(alone, pooled):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key


def test_the_bar_and_the_epoch_line_show_the_progress_metric_not_the_last_term(
    tiny_config, tmp_path, caplog, capsys
):
    # MASR's term is logged after the progress metric, so the last term differs from it
    cfg = tiny_config("train.epochs=1", "loss.masr.weight=1", "loss.masr.sources={speaker: 1}")
    trainer = Trainer(cfg, tmp_path / "exp", progress=bars)
    key = trainer.objective.progress_key
    with caplog.at_level("INFO", logger="mirnet.train.trainer"):
        last = trainer.run()
    terms = list(trainer.objective.epoch_keys)
    assert key == "pit_acc" and terms[-1] != key, terms  # else the test could not tell them apart
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch 1:")]
    assert f"val {key} {last[f'val_{key}']:.3f}" in line, line
    bar = capsys.readouterr().err
    assert f"{key}=" in bar and f"{terms[-1]}=" not in bar, bar[-300:]
