"""A held-out family of voices (``mirnet corpus split``): the cross-engine split, a
stand-in for voices from engines the project does not have.

Every voice whose metadata matches the rule (``language`` in a set, say: one family of MBROLA
voices; or ``engine=flite``) leaves the training voices, and so does every derived copy of it
(``mirnet corpus transform``'s, found through ``meta.derived_from``): a copy carries its source's
voice. Three manifests come out:

- ``train.jsonl``: the training corpora without the family;
- ``family.jsonl``: every utterance of the family's voices, seen and unseen alike, copies left
  out: the cross-engine test set;
- ``unseen.jsonl``: the unseen voices outside the family: the same model's unseen split, to
  which the cross-engine figure is compared (the target: at most 1.5x).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import write_text
from ..errors import InputError
from .manifest import Manifest, Utterance

SPLIT_FILE = "split.json"


def parse_rule(text: str) -> tuple[str, frozenset[str]]:
    """``key=v1,v2`` -> (key, {v1, v2})."""
    key, sep, values = text.partition("=")
    chosen = frozenset(v.strip() for v in values.split(",") if v.strip())
    if not sep or not key.strip() or not chosen:
        raise InputError(f"--hold-out: expected KEY=VALUE[,VALUE...] (e.g. language=de,nl), got {text!r}")
    return key.strip(), chosen


def family_split(train: Manifest, unseen: Manifest, key: str, values: frozenset[str]) -> dict[str, Manifest]:
    """``train`` (seen voices, and any copies of them) and ``unseen`` -> the three manifests above.
    Refused in one line when no voice, or every voice, matches the rule."""
    sources = {u.id: u for u in [*train, *unseen]}

    def attribute(u: Utterance) -> str | None:
        origin = sources.get(u.meta.get("derived_from", ""), u)
        return origin.meta.get(key)

    def in_family(u: Utterance) -> bool:
        return attribute(u) in values

    derived = {u.id for u in train if "derived_from" in u.meta}
    parts = {
        "train": Manifest([u for u in train if not in_family(u)], train.source),
        "family": Manifest([u for u in [*train, *unseen] if in_family(u) and u.id not in derived]),
        "unseen": Manifest([u for u in unseen if not in_family(u)], unseen.source),
    }
    rule = f"{key}={','.join(sorted(values))}"
    if not len(parts["family"]):
        known = sorted({str(attribute(u)) for u in [*train, *unseen]})
        raise InputError(f"--hold-out {rule}: no voice has it; {key} takes {', '.join(known)}")
    for name in ("train", "unseen"):
        if not len(parts[name]):
            raise InputError(f"--hold-out {rule}: it takes every voice of the {name} corpus")
    return parts


def write_split(parts: dict[str, Manifest], out: str | Path, rule: str) -> Path:
    """The three manifests and ``split.json`` (the rule, each part's voices) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, manifest in parts.items():
        manifest.save(out / f"{name}.jsonl")
    summary = {
        "hold_out": rule,
        **{name: {"speakers": m.speakers, "utterances": len(m)} for name, m in parts.items()},
    }
    write_text(out / SPLIT_FILE, json.dumps(summary, indent=1) + "\n")
    return out
