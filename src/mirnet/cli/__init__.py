"""``mirnet`` command line: composes the library, holds no logic of its own.

Every user-facing error (bad audio, bad config, bad checkpoint, missing data: a
``mirnet.errors.MirnetError``, or an OSError on a user's path) is printed as one line naming the
file or key and the reason, with exit status 2. Anything else is a bug and keeps its traceback;
``--debug`` shows the traceback of user-facing errors too.

A command's parser stands beside its handler, in the module of its group, so that a command is
changed in one place.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from ..allocator import keep_freed_memory
from ..errors import MirnetError
from . import apps, corpus, diarization, evaluation, export, separation, serve, train

# each adds its command to the subparsers, in the order `mirnet --help` lists them
_COMMANDS = (
    corpus.add_corpus,
    corpus.add_prepare,
    train.add_train,
    evaluation.add_eval,
    evaluation.add_cohort,
    evaluation.add_eval_probes,
    apps.add_embed,
    apps.add_verify,
    apps.add_enroll,
    apps.add_identify,
    diarization.add_diarize,
    diarization.add_eval_diarization,
    serve.add_serve,
    separation.add_separate,
    evaluation.add_eval_separation,
    export.add_export,
    separation.add_compose,
    evaluation.add_plot,
    evaluation.add_report,
)


class _Help(argparse.HelpFormatter):
    """Every option's default in its help, unless the help already says it (or there is none)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or any(action.default is v for v in (None, False, argparse.SUPPRESS))
            or action.default == []
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


class _Parser(argparse.ArgumentParser):
    """Every subcommand's parser is one of these (argparse makes them of the parent's class)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mirnet", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"mirnet {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--debug", action="store_true", help="a traceback for every error, not one line")
    sub = p.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extra = parser.parse_known_args(argv)
    args.argv = argv
    # argparse cannot take positionals after an option (`train CFG EXP --resume a.b=1`): overrides
    # are recognised by their '=' wherever they stand
    if extra and args.command == "train" and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from ..train.distributed import is_main_process

    level = logging.DEBUG if args.verbose else logging.INFO if is_main_process() else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    keep_freed_memory()  # every verb moves large tensors: ~30% of a separator's CPU was page faults

    try:
        args.func(args)
    except (MirnetError, OSError) as exc:  # OSError: a user's path that is missing, unwritable, already there
        if args.debug:
            raise
        print(f"mirnet: error: {exc}", file=sys.stderr)
        return 2
    return 0
