"""What the Trainer optimises, by the kind of network (``architectures``): an objective is the
network and its loss as one module, so that DDP sees every trained parameter (an embedder's
speaker classifier belongs to its loss), and it names the values the loop logs.

- ``EmbedderObjective``: mixture -> N embeddings, MixtureLoss (PIT cross-entropy and the
  optional teacher, attention, mask and signal terms); logs cross-entropy and PIT accuracy. With a
  fixed ``separator`` in front (``train.separator``), a single-speaker embedder learns from the
  separator's outputs, each labelled with the source it is closest to (SI-SDR, the one
  permutation helper), the teacher seeing that clean source: the cascade's embedder, trained
  for the artifacts it will hear.
- ``SeparatorObjective``: mixture -> N waveforms, utterance-level PIT over negative SI-SDR;
  logs SI-SDR and SI-SDRi. A conditioned separator runs once per embedding that its
  conditioner gives (``separation.conditioning``). Passes on the mixture's own identities are
  matched to the sources by the same PIT as the speaker-independent separator's N outputs;
  a pass on source k's enrolled embedding is scored against source k. With a teacher
  (``train.teacher``, ``loss.teacher_weight``), an identity term beside it: the cosine distance
  between the frozen teacher's embedding of each output and of the source it was assigned, so
  that a separator keeps what makes a voice that voice (stock resemblyzer knows thousands of
  people; the separator's corpus, a hundred).
"""

from __future__ import annotations

import torch
from torch import nn

from ..checkpoint import conditioner_spec, load_conditioner, load_model
from ..config import ExperimentConfig
from ..distances import pairwise_cosine_distance
from ..errors import ConfigError
from ..losses.classification import SpeakerClassifier
from ..losses.masr import MasrLoss
from ..losses.mixture import MixtureLoss
from ..losses.pit import best_permutation
from ..losses.signal import SeparationLoss, pairwise_neg_sisdr
from ..separation.conditioning import Conditioner


class EmbedderObjective(nn.Module):
    step_keys = ("ce", "teacher", "attention", "mask", "pit_acc")
    epoch_keys = ("ce", "pit_acc")
    progress_key = "pit_acc"

    def __init__(
        self,
        model: nn.Module,
        loss: MixtureLoss,
        classifier_args: dict,
        separator: nn.Module | None = None,
        masr: MasrLoss | None = None,
        masr_weight: float = 0.0,
    ):
        super().__init__()
        self.model, self.loss, self.classifier_args = model, loss, classifier_args
        self.separator = None if separator is None else separator.eval().requires_grad_(False)
        self.masr, self.masr_weight = masr, masr_weight
        if loss.signal_weight:  # a separating embedder's streams scored against the sources
            self.step_keys = (*self.step_keys, "signal")
            self.epoch_keys = (*self.epoch_keys, "signal")
        if masr is not None:
            self.step_keys = (*self.step_keys, "masr")
            self.epoch_keys = (*self.epoch_keys, "masr")

    def train(self, mode: bool = True) -> EmbedderObjective:
        super().train(mode)
        if self.separator is not None:
            self.separator.eval()
        return self

    @property
    def classifier(self) -> SpeakerClassifier:
        return self.loss.classifier

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        inputs, labels, sources = batch["mixture"], batch["labels"], batch["sources"]
        meta = {k.removeprefix("meta."): v for k, v in batch.items() if k.startswith("meta.")}
        if self.separator is not None:
            with torch.no_grad():
                outputs = self.separator(inputs).float()  # (B, N, samples)
                source = best_permutation(pairwise_neg_sisdr(outputs, sources))  # output k <-> source[:, k]
            inputs, labels = outputs.flatten(0, 1), labels.gather(1, source).reshape(-1, 1)
            meta = {k: v.gather(1, source).reshape(-1, 1) for k, v in meta.items()}
            sources = sources.gather(1, source[..., None].expand(-1, -1, sources.shape[-1])).flatten(0, 1)[
                :, None
            ]
        out = self.model(inputs)
        loss, logs = self.loss(out, labels, sources, self.model.features)
        if self.masr is not None:  # on the base loss's permutation: output k carries source perm[k]'s labels
            perm = logs["perm"]
            codes = {k: v.gather(1, perm).flatten() for k, v in {"speaker": labels, **meta}.items()}
            logs["masr"] = self.masr(out.embeddings.flatten(0, 1), codes)
            loss = loss + self.masr_weight * logs["masr"]
        return loss, logs


class SeparatorObjective(nn.Module):
    step_keys = epoch_keys = ("si_sdr", "si_sdri")
    progress_key = "si_sdri"
    classifier, classifier_args = None, None

    def __init__(
        self,
        model: nn.Module,
        conditioner: Conditioner | None = None,
        teacher: nn.Module | None = None,
        teacher_weight: float = 0.0,
    ):
        super().__init__()
        self.model, self.conditioner = model, conditioner
        self.loss = SeparationLoss(ordered=conditioner is not None and conditioner.mode == "enrolled")
        self.teacher = None if teacher is None else teacher.eval().requires_grad_(False)
        self.teacher_weight = teacher_weight
        if teacher is not None:
            self.step_keys = self.epoch_keys = (*self.step_keys, "teacher")

    def train(self, mode: bool = True) -> SeparatorObjective:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        mixture = batch["mixture"]
        if self.conditioner is None:
            estimates = self.model(mixture)
        else:
            with torch.no_grad():
                embeddings = self.conditioner(batch)  # (B, N, D)
            b, n = embeddings.shape[:2]
            estimates = self.model(mixture.repeat_interleave(n, 0), embeddings.flatten(0, 1)).view(b, n, -1)
        loss, logs = self.loss(estimates, batch["sources"], mixture)
        if self.teacher is not None:
            logs["teacher"] = self.identity(estimates, batch["sources"], logs["perm"])
            loss = loss + self.teacher_weight * logs["teacher"]
        return loss, logs

    def identity(self, estimates: torch.Tensor, sources: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
        """The teacher's cosine distance between each output and its assigned source (perm[b, k]:
        output k's), averaged; gradients flow through the outputs' embeddings only."""
        assigned = sources.gather(1, perm[..., None].expand(-1, -1, sources.shape[-1]))
        with torch.no_grad():
            target = self.teacher(assigned.flatten(0, 1)).embeddings  # (B*N, 1, E)
        return pairwise_cosine_distance(
            self.teacher(estimates.float().flatten(0, 1)).embeddings, target
        ).mean()


def build_masr(cfg: ExperimentConfig, attributes: tuple[str, ...] | list[str]) -> MasrLoss | None:
    """The MASR term of ``loss.masr``, its sources checked against the metadata the data carries."""
    m = cfg.loss.masr
    if not m.weight:
        return None
    known = ("speaker", *attributes)
    missing = sorted(set(m.sources) - set(known))
    if missing:
        raise ConfigError(
            f"loss.masr.sources: no speaker metadata {', '.join(map(repr, missing))} in data.train; "
            f"it has {', '.join(known)}"
        )
    return MasrLoss(m.sources, m.combine, m.threshold, m.margin, m.mining)


def _teacher(cfg: ExperimentConfig, kind: str, embed_dim: int | None) -> nn.Module | None:
    """``train.teacher``'s network, which must give one embedding per clean source (of
    ``embed_dim`` values where the loss compares them with the model's own)."""
    if not cfg.train.teacher:
        return None
    teacher = load_model(cfg.train.teacher)[0]
    if teacher.kind != "embedder" or teacher.n_speakers != 1 or embed_dim not in (None, teacher.embed_dim):
        size = "" if embed_dim is None else f" of this model's size ({embed_dim})"
        raise ConfigError(
            f"train.teacher={cfg.train.teacher}: the {kind}'s teacher must give one embedding{size} "
            f"per source, it gives {getattr(teacher, 'n_speakers', '?')} of {getattr(teacher, 'embed_dim', '?')}"
        )
    return teacher


def build_objective(
    cfg: ExperimentConfig, model: nn.Module, n_classes: int, attributes: tuple[str, ...] | list[str] = ()
) -> nn.Module:
    """The objective for ``model``'s kind, its loss and any model it learns from (a teacher, a
    conditioner) built from the config. ``attributes``: the speaker metadata the batches carry."""
    if model.kind == "separator":
        teacher = _teacher(cfg, model.kind, None) if cfg.loss.teacher_weight else None
        if not cfg.train.conditioner:
            return SeparatorObjective(model, None, teacher, cfg.loss.teacher_weight)
        conditioner = load_conditioner(conditioner_spec(cfg.train.conditioner))  # from its source
        if conditioner.embed_dim != model.embed_dim:
            raise ConfigError(
                f"train.conditioner={cfg.train.conditioner}: gives {conditioner.embed_dim}-dimensional "
                f"embeddings, the separator takes model.args.embed_dim={model.embed_dim}"
            )
        if conditioner.mode == "enrolled" and not cfg.data.enroll_seconds:
            raise ConfigError(
                f"train.conditioner={cfg.train.conditioner} embeds enrolled references (one "
                f"speaker per clip): set data.enroll_seconds > 0"
            )
        return SeparatorObjective(model, conditioner, teacher, cfg.loss.teacher_weight)
    lc = cfg.loss
    if lc.teacher_weight and not cfg.train.teacher:
        raise ConfigError(f"loss.teacher_weight={lc.teacher_weight} needs a teacher model: set train.teacher")
    classifier_args = {
        "embed_dim": model.embed_dim,
        "n_classes": n_classes,
        "kind": lc.classifier,
        "scale": lc.scale,
        "margin": lc.margin,
    }
    teacher = _teacher(cfg, model.kind, model.embed_dim if lc.teacher_weight else None)
    loss = MixtureLoss(
        SpeakerClassifier(**classifier_args),
        ce_weight=lc.ce_weight,
        teacher=teacher,
        teacher_weight=lc.teacher_weight,
        attention_weight=lc.attention_weight,
        mask_weight=lc.mask_weight,
        mask_floor_db=lc.mask_floor_db,
        signal_weight=lc.signal_weight,
    )
    separator = None
    if cfg.train.separator:
        separator = load_model(cfg.train.separator)[0]
        if separator.kind != "separator" or separator.embed_dim:
            what = "a conditioned separator" if separator.kind == "separator" else f"an {separator.kind}"
            raise ConfigError(
                f"train.separator={cfg.train.separator}: is {what}; the cascade needs a "
                f"speaker-independent (uPIT) separator"
            )
    return EmbedderObjective(
        model, loss, classifier_args, separator, build_masr(cfg, attributes), lc.masr.weight
    )
