"""What the commands share: the help of their model arguments, checks of a user's paths before the
work, the numbers' argparse types, and the ways a result is printed."""

from __future__ import annotations

import argparse
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from ..arguments import coerce
from ..errors import ConfigError, InputError
from ..pretrained import NAMES
from ..progress import Progress, bars, silent

# what a command's model argument may name, in its help
EMBEDDER_HELP = "an embedder: a shipped name (reference, mirnet, ...), an experiment dir or model file"
SEPARATOR_HELP = (
    "a separator: a shipped name (upit, voicefilter_mirnet, ...), an experiment dir or model file"
)
MODEL_HELP = f"a model: a shipped name ({', '.join(NAMES)}), an experiment dir or a model file"
SYSTEM_HELP = (
    f"a shipped model ({', '.join(NAMES)}), an experiment dir or model file, or the peer resemblyzer"
)


def progress_of(a) -> Progress:
    """The bars a command draws on stderr, or none under ``-q``."""
    return silent if a.quiet else bars


def check_inputs(*paths) -> None:
    """Refuse a missing input before any model loads (seconds of work a typo would waste)."""
    for path in paths:
        if not Path(path).exists():
            raise InputError(f"{path}: no such file")
        if Path(path).is_dir():
            raise InputError(f"{path}: a directory, not an audio file")


def check_output(path) -> None:
    """Refuse an output file whose folder does not exist before the work, not after it."""
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise InputError(f"{path}: no such directory {Path(path).parent}")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def typed(tp) -> Callable[[str], Any]:
    """An argparse type for a number of config type ``tp`` (``Size``, ``Ratio``...): the config's
    bounds, and finite, so that a bad option is argparse's usage error and not a traceback."""
    kind = typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp

    def parse(text: str):
        try:
            return coerce(kind(text), tp, "value")
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None

    parse.__name__ = kind.__name__  # argparse's "invalid int value: 'x'"
    return parse


def precision_option(s) -> None:
    s.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="auto (default): bf16 autocast where the CPU has AMX, else fp32",
    )


def print_result(a, result: dict, lines: list[str]) -> None:
    """``--json``: the result as JSON on stdout; else a few readable lines."""
    print(json.dumps(result, indent=1) if a.json else "\n".join(lines))
