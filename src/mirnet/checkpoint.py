"""Self-describing, atomically written checkpoints.

A model file carries its registry name, constructor arguments (feature settings included),
the speaker map, data provenance, the resolved config and the code version, so that
``load_model(path)`` rebuilds it with nothing else. Files are written to a temporary name and
renamed, so a crash or a full disk during a save leaves the previous file intact; they are
read with ``weights_only=True`` so loading a checkpoint never runs code from it.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import subprocess
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__, pretrained
from .architectures import build_model, describe
from .atomic import atomic_path
from .errors import ConfigError, MirnetError
from .models.resemblyzer import Resemblyzer, pretrained_state_dict
from .separating_embedder import compose
from .separation.conditioning import Conditioner

FORMAT = "mirnet-model-1"
MODEL_FILE, STATE_FILE = "model.pt", "checkpoint.pt"


class CheckpointError(MirnetError, ValueError):
    pass


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc``: torch.save reports a failed write as a RuntimeError
    ("unexpected pos ...") whose context is the OSError."""
    while exc is not None and not isinstance(exc, OSError):
        exc = exc.__cause__ or exc.__context__
    return exc


def save_atomic(obj: Any, path: str | Path) -> Path:
    """A failed write (a full disk, say) leaves the previous file as it was and no temporary
    file behind, and raises a CheckpointError that names the file and the reason. ``obj`` is
    saved with torch.save, or, given as a Path, copied byte for byte (a model file shipped
    twice is then one object in git)."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            if isinstance(obj, Path):
                f.write(obj.read_bytes())
            else:
                torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
    except (OSError, RuntimeError) as exc:
        cause = _os_error(exc)
        if cause is None:
            raise
        reason = (
            "the disk is full"
            if cause.errno in (errno.ENOSPC, errno.EDQUOT)
            else cause.strerror or str(cause)
        )
        raise CheckpointError(
            f"{path}: cannot write checkpoint: {reason} ({cause.__class__.__name__}: {cause})"
        ) from None
    return path


def load_file(path: str | Path, data: bytes | None = None) -> dict:
    """The checkpoint at ``path``; ``data``, when given, is its bytes already read (and hashed)."""
    path = Path(path)
    if data is None and not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        obj = torch.load(path if data is None else io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: unreadable checkpoint ({exc.__class__.__name__}: {str(exc)[:200]})"
        ) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a mirnet checkpoint")
    return obj


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def model_bundle(
    model: nn.Module,
    speakers: list[str],
    *,
    classifier: nn.Module | None = None,
    classifier_args: dict | None = None,
    data: dict | None = None,
    config: dict | None = None,
    progress: dict | None = None,
    conditioner: dict | None = None,
) -> dict:
    """The model describes itself (``architectures.describe``); ``conditioner``: a conditioned
    separator's embedder (``conditioner_spec``)."""
    return {
        "format": FORMAT,
        "mirnet_version": __version__,
        "git_commit": git_commit(),
        "model": describe(model),
        "state_dict": model.state_dict(),
        "classifier": None
        if classifier is None
        else {"args": classifier_args, "state_dict": classifier.state_dict()},
        "speakers": list(speakers),
        "data": data or {},
        "config": config or {},
        "progress": progress or {},
        **({"conditioner": conditioner} if conditioner is not None else {}),
    }


def resolve(path: str | Path, *, must_exist: bool = False) -> Path:
    """An experiment dir (its model.pt) or a file; where no such path exists, the shipped model
    of that name (``pretrained``: ``reference``, ``upit``, ...), so a path wins over a name.
    ``must_exist``: a path that does not exist and is no shipped name is refused in one line that
    lists the names; otherwise it is returned as it is."""
    found = pretrained.locate(path)
    if found is None:
        if must_exist:
            raise CheckpointError(pretrained.unknown(path))
        found = Path(path)
    return found / MODEL_FILE if found.is_dir() else found


def model_fingerprint(path: str | Path) -> str:
    """The model file's SHA-1 (12 hex digits): what evaluation results, calibrations and galleries
    record, so that each is used only with the very model that made it."""
    return _sha1(resolve(path, must_exist=True).read_bytes())


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:12]


PRETRAINED = "resemblyzer"  # a name train.init_from and train.teacher take in place of a path


def pretrained_bundle() -> dict:
    """resemblyzer's network and weights as a mirnet model file (``models.ge2e``), built from
    the installed package: the start and the teacher of a GE2E fine-tuned in mirnet."""
    model = build_model("ge2e")
    model.load_state_dict(pretrained_state_dict())
    return model_bundle(model, [], data={"source": "resemblyzer 0.1.4, pretrained.pt in its wheel"})


def read_bundle(path: str | Path, data: bytes | None = None) -> dict:
    """The bundle of an experiment dir or model file (``data``: the file's bytes, already read),
    or of ``PRETRAINED``."""
    if str(path) == PRETRAINED:
        return pretrained_bundle()
    path = resolve(path, must_exist=data is None)
    bundle = load_file(path, data)
    if bundle.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a mirnet model file (format {bundle.get('format')!r}, expected {FORMAT!r})"
        )
    spec = bundle.get("model")
    if not (
        isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(spec.get("args"), dict)
    ):
        raise CheckpointError(
            f"{path}: a model file without its model's description ('model': name and args)"
        )
    if LINKS in bundle:
        bundle["state_dict"] = _linked_weights(bundle, path)
    if not isinstance(bundle.get("state_dict"), dict):
        raise CheckpointError(f"{path}: a model file without its weights ('state_dict')")
    return bundle


def build_from_bundle(bundle: dict, source: str | Path = "<bundle>") -> nn.Module:
    spec = bundle["model"]
    try:
        model = build_model(spec["name"], **spec["args"])
        model.load_state_dict(bundle["state_dict"])
    except (TypeError, RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"{source}: checkpoint does not fit model {spec['name']!r} ({str(exc).splitlines()[0][:300]})"
        ) from None
    return model.eval()


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the model from a model file or experiment dir; returns (model in eval mode, bundle)."""
    bundle = read_bundle(path)
    return build_from_bundle(bundle, resolve(path)), bundle


def compose_models(
    separator: str | Path, embedder: str | Path, out: str | Path, *, link: bool = False
) -> Path:
    """OUT/model.pt: the separating embedder (``separating_embedder``) made of a trained
    speaker-independent separator and a trained single-embedding embedder (an experiment, a
    model file, or ``PRETRAINED``). It keeps the embedder's data provenance (its held-out
    utterances) and records both parts' fingerprints. With ``link``, the file holds no weights:
    it names each part's model file relative to itself (``LINKS``), so a composition of shipped
    models costs a few kilobytes, and it loads only while the parts are unchanged."""
    parts = {"separator": read_bundle(separator), "embedder": read_bundle(embedder)}
    try:
        model = compose(parts["separator"], parts["embedder"])
    except ConfigError as exc:
        raise CheckpointError(f"{separator} + {embedder}: cannot compose them: {exc}") from None
    sources = {"separator": separator, "embedder": embedder}
    composed = {
        key: {
            "source": str(path),
            "fingerprint": None if str(path) == PRETRAINED else model_fingerprint(path),
        }
        for key, path in sources.items()
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bundle = model_bundle(model, [], data={**parts["embedder"]["data"], "composed_from": composed})
    if link:
        bundle["state_dict"] = {}
        bundle[LINKS] = {
            key: {
                "file": path if path == PRETRAINED else os.path.relpath(resolve(path), out.resolve()),
                "fingerprint": composed[key]["fingerprint"],
            }
            for key, path in ((k, str(v)) for k, v in sources.items())
        }
    return save_atomic(bundle, out / MODEL_FILE)


LINKS = "weights_from"  # a linked composition's parts: {part: {"file", "fingerprint"}}


def _linked_weights(bundle: dict, path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a linked composition, from its parts' files, each checked against the
    fingerprint it had when composed."""
    state = {}
    for key, link in bundle[LINKS].items():
        if link["file"] == PRETRAINED:
            part = pretrained_bundle()
        else:
            file = Path(os.path.normpath(path.parent / link["file"]))
            if not file.is_file():
                raise CheckpointError(f"{path}: its {key} {file} is missing; compose it again")
            data = file.read_bytes()  # once: hashed, then loaded
            fingerprint = _sha1(data)
            if fingerprint != link["fingerprint"]:
                raise CheckpointError(
                    f"{path}: its {key} {file} has changed since it was composed "
                    f"(SHA-1 {fingerprint}, composed with {link['fingerprint']}); compose it again"
                )
            part = read_bundle(file, data)
        state.update({f"{key}.{name}": value for name, value in part["state_dict"].items()})
    return state


PEER_CONDITIONERS = {PRETRAINED: Resemblyzer}


CONDITIONER_FILE = Path("conditioner") / MODEL_FILE


def conditioner_spec(source: str | Path) -> dict:
    """What a conditioned separator's checkpoint says of its embedder: a peer's name, or where
    the embedder's model file lies inside the separator's experiment dir (``CONDITIONER_FILE``,
    put there by the trainer), so that dir is all ``mirnet separate`` needs, and each shipped
    file stays small."""
    if str(source) in PEER_CONDITIONERS:
        return {"peer": str(source)}
    return {"file": str(CONDITIONER_FILE), "source": str(source)}


def load_conditioner(spec: dict, model_file: str | Path | None = None) -> Conditioner:
    """The conditioner ``spec`` names; its model file is looked up beside ``model_file`` (an
    experiment's model.pt) or one level up (an epoch snapshot in EXP/epochs/), else at the
    source it was trained from."""
    if "peer" in spec:
        conditioner = Conditioner(PEER_CONDITIONERS[spec["peer"]]())
    else:
        here = Path(model_file).parent if model_file is not None else None
        places = [] if here is None else [here / spec["file"], here.parent / spec["file"]]
        found = next((p for p in places if p.is_file()), None)
        conditioner = Conditioner(load_model(found or spec["source"])[0])
    conditioner.spec = spec
    return conditioner
