"""mirnet: one speaker embedding per talker in overlapped speech, without enrollment."""

__version__ = "0.1.0"


def load(path):
    """Load a trained experiment (dir or model file) as an :class:`mirnet.api.Embedder`."""
    from .api import Embedder

    return Embedder.from_pretrained(path)


def load_separator(path, **kwargs):
    """Load a trained separator (dir or model file) as a :class:`mirnet.api.Separator`."""
    from .api import Separator

    return Separator.from_pretrained(path, **kwargs)
