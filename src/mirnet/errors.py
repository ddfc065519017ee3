"""The project's error types. Each one is input a user can fix — a config key, a file, a
command-line argument — and says which and why in one line, so ``mirnet`` prints it as that line
(exit status 2). Any other exception is a bug and keeps its traceback.

Each derives from ValueError or RuntimeError as well, as the plain exception it replaced did,
so callers that catch those keep working."""

from __future__ import annotations


class MirnetError(Exception):
    """Base of every error the command line answers with one line."""


class CorpusError(MirnetError, ValueError):
    """A corpus, manifest, trial list or mixture list that cannot be used as it is."""


class InputError(MirnetError, ValueError):
    """An argument, or a file an argument names, that does not fit what was asked."""


class MissingDependency(MirnetError, RuntimeError):
    """An optional package or external tool that the requested feature needs is not installed."""


class ConfigError(MirnetError, ValueError):
    """A config key, a model argument or a checkpoint's recorded settings that do not fit."""
