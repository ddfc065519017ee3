"""The parts of a run, built from its config in one place (as WeSpeaker's ``bin/train.py`` does
before its executor runs): the mixture datasets and their provenance, the network started as
``train.init_from`` and ``train.freeze`` say, and its objective. The Trainer gets them ready-made
and keeps only the loop."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import torch
from torch import nn

from ..architectures import model_from_config
from ..checkpoint import CheckpointError, read_bundle
from ..config import DataConfig, ExperimentConfig
from ..corpus import open_corpus
from ..corpus.audio_cache import AudioCache
from ..corpus.manifest import Manifest
from ..data.mixing import (
    MixingConfig,
    MixtureDataset,
    read_file,
    speaker_attributes,
    speaker_labels,
    split_utterances,
)
from ..errors import ConfigError
from .objectives import build_objective

log = logging.getLogger(__name__)


@dataclass
class RunData:
    train: MixtureDataset
    val: MixtureDataset
    speakers: list[str]  # the classes, in label order (speed-perturbed copies included)
    attributes: list[str]  # the speaker metadata each item carries (``meta.NAME``)
    provenance: dict  # what the checkpoint records of the data


def mixing_config(d: DataConfig) -> MixingConfig:
    """How ``data`` mixes: its keys of the same names as ``MixingConfig``'s fields (the config
    declares them with their checked types and bounds; the mixing code takes them plain)."""
    return MixingConfig(**{f.name: getattr(d, f.name) for f in fields(MixingConfig)})


def build_data(cfg: ExperimentConfig) -> RunData:
    """Training and validation mixtures of held-apart utterances of the same speakers. The
    entries of a list ``data.train`` are read one by one (as ``open_corpus`` reads a list), so
    that ``data.train_weights`` knows whose speakers are whose."""
    d = cfg.data
    parts = [open_corpus(s) for s in ([d.train] if isinstance(d.train, str) else d.train)]
    whole = Manifest.join(parts)
    read = AudioCache.open(d.cache, whole).read if d.cache else read_file
    corpus = whole.filter(min_seconds=d.min_seconds)
    train_set, val_set = split_utterances(corpus, d.val_fraction, cfg.seed)
    for name, part in (("training", train_set), ("validation", val_set)):
        if len(part.speakers) < d.n_speakers:
            raise ConfigError(
                f"data.n_speakers={d.n_speakers}: the {name} utterances of {corpus.source} "
                f"(data.val_fraction={d.val_fraction}, data.min_seconds={d.min_seconds}) "
                f"come from {len(part.speakers)} speaker(s)"
            )
        for source, weight in zip(parts, d.train_weights):
            have = len(set(source.speakers) & set(part.speakers))
            if weight > 0 and have < d.n_speakers:
                raise ConfigError(
                    f"data.train_weights: {source.source} has weight {weight} but {have} speaker(s) "
                    f"among the {name} utterances, fewer than data.n_speakers={d.n_speakers}"
                )
    pools = [(source.speakers, weight) for source, weight in zip(parts, d.train_weights)]
    mixing = mixing_config(d)
    speakers = speaker_labels(corpus.speakers, mixing.speed_perturb)
    label = {s: i for i, s in enumerate(speakers)}
    attributes = speaker_attributes(corpus)
    return RunData(
        train=MixtureDataset(
            train_set, mixing, d.epoch_size, cfg.seed, label, attributes=attributes, read=read, pools=pools
        ),
        val=MixtureDataset(
            val_set, mixing, d.val_size, cfg.seed + 7919, label, attributes=attributes, read=read, pools=pools
        ),
        speakers=speakers,
        attributes=sorted(attributes),
        provenance={
            "source": d.train if isinstance(d.train, str) else list(d.train),
            "fingerprint": corpus.fingerprint(),
            "utterances": len(corpus),
            "speakers": len(corpus.speakers),
            "heldout": [u.id for u in val_set],
        },
    )


def freeze_parts(model: nn.Module, names: tuple[str, ...]) -> list[nn.Module]:
    """Fix the named submodules: no gradients, and (via ``set_train_mode``) BatchNorm in eval
    mode, so a speaker network started from a clean model keeps exactly the function it had.
    Frozen, the speaker network cannot learn to recognise the training voices inside a
    mixture; lowering the loss is left to the front end, which must hand it separated speech."""
    parts = []
    for name in names:
        part = getattr(model, name, None)
        if not isinstance(part, nn.Module):
            children = ", ".join(n for n, _ in model.named_children())
            raise ConfigError(f"train.freeze: model has no part {name!r}; its parts are {children}")
        part.requires_grad_(False)
        parts.append(part)
    return parts


def set_train_mode(model: nn.Module, frozen: list[nn.Module]) -> None:
    model.train()
    for part in frozen:
        part.eval()


def trained_batchnorms(model: nn.Module, frozen: list[nn.Module] = ()) -> list[nn.Module]:
    """The BatchNorm layers outside the frozen parts: those that see batch statistics in training."""
    fixed = {id(m) for part in frozen for m in part.modules()}
    return [
        m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in fixed
    ]


def init_from(model: nn.Module, classifier: nn.Module | None, speakers: list[str], path: str) -> None:
    """Start an embedder's speaker network (and, when the speaker lists match, the classifier)
    from another experiment, e.g. a single-speaker model trained on clean crops; or a model that
    says how it starts (``start_from``) from another of its kind: a separator from another
    separator's body (a VoiceFilter from the uPIT separator's), a separating embedder from a
    composed one."""
    bundle = read_bundle(path)
    if hasattr(model, "start_from"):
        name = model.architecture["name"]
        if bundle["model"]["name"] != name:
            raise CheckpointError(
                f"{path}: a {bundle['model']['name']!r} model cannot start a {name!r} model"
            )
        missed = model.start_from(bundle["state_dict"])
        if missed:
            raise CheckpointError(f"{path}: its weights do not fit this {name}'s {', '.join(missed[:4])}")
        log.info("initialised %s from %s", name, path)
        return
    prefix = "speaker_net."
    src = {k[len(prefix) :]: v for k, v in bundle["state_dict"].items() if k.startswith(prefix)}
    try:
        model.speaker_net.load_state_dict(src)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: speaker network does not match this model's ({str(exc).splitlines()[0]})"
        ) from None
    if bundle.get("classifier") and bundle["speakers"] == speakers:
        classifier.load_state_dict(bundle["classifier"]["state_dict"])
    log.info("initialised speaker network from %s", path)


@dataclass
class RunModel:
    model: nn.Module
    objective: nn.Module  # the model and its loss as one module (``objectives``)
    frozen: list[nn.Module]


def build_run_model(
    cfg: ExperimentConfig, speakers: list[str], sync_batchnorm=None, attributes: list[str] = ()
) -> RunModel:
    """The network and its objective, started and frozen as the config says. ``sync_batchnorm``
    (the process group's converter, under torchrun) is applied when BatchNorm layers train;
    ``attributes`` are the speaker metadata the batches carry (``RunData.attributes``)."""
    model = model_from_config(cfg.model, cfg.data.n_speakers)
    objective = build_objective(cfg, model, len(speakers), attributes)
    if cfg.train.init_from:
        init_from(model, objective.classifier, speakers, cfg.train.init_from)
    frozen = freeze_parts(model, cfg.train.freeze)
    if sync_batchnorm is not None and cfg.train.sync_batchnorm and trained_batchnorms(model, frozen):
        objective.model = model = sync_batchnorm(model)
    return RunModel(model, objective, frozen)


def trained_parameters(objective: nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in objective.parameters() if p.requires_grad]
