"""The shipped models by name: ``mirnet.load("reference")``, ``mirnet embed reference mix.wav``,
``mirnet.load_separator("upit")``, from any working directory.

This is the one place that maps a name to its folder. ``checkpoint.resolve`` asks it about every
model argument, so each verb and loader that takes a model path takes these names too; a path
that exists wins over a name. The models are the repository's ``models/`` folder: in a source
checkout (an editable install included) they are read from there, and a wheel (``pip install .``)
carries a copy of that folder as ``mirnet/shipped_models/`` (``setup.py`` puts it there), so a user
outside the repository gets the very same files. Nothing is downloaded.

No torch here: the build reads nothing of it, and ``import mirnet`` stays light."""

from __future__ import annotations

from pathlib import Path

PEER = "resemblyzer"  # checkpoint.PRETRAINED: resemblyzer's own GE2E, from its wheel, not a shipped file

# name -> (folder under models/, what it is); the order is the one the error message lists
SHIPPED: dict[str, tuple[str, str]] = {
    "reference": (
        "reference",
        "the reference embedder: the uPIT separator, then GE2E fine-tuned on its outputs, with its "
        "AS-norm cohort (cohort.npz)",
    ),
    "mirnet": ("mirnet", "the paper's system: the compact MIRNet, N embeddings per mixture"),
    "mirnet/teacher": ("mirnet/teacher", "the clean single-speaker embedder MIRNet was distilled from"),
    "upit": ("separators/upit", "the speaker-independent uPIT separator (2 outputs)"),
    "upit_recorded": (
        "separators/upit_recorded",
        "uPIT fine-tuned on recorded people and synthesized voices (+1.1 dB on recorded voices)",
    ),
    "cascade": ("separators/cascade", "the cascade's embedder: GE2E fine-tuned on uPIT's outputs"),
    "voicefilter_mirnet": ("separators/voicefilter_mirnet", "VoiceFilter conditioned on MIRNet's identities"),
    "voicefilter_enrolled": (
        "separators/voicefilter_enrolled",
        "VoiceFilter conditioned on enrolled references (one clean recording per target)",
    ),
}
NAMES = tuple(SHIPPED)

_HERE = Path(__file__).resolve().parent
PACKAGED = _HERE / "shipped_models"  # in an installed wheel
CHECKOUT = _HERE.parents[1] / "models"  # src/mirnet/ -> the repository's models/


def models_dir() -> Path:
    """Where the shipped models are: the wheel's copy, else the source checkout's ``models/``."""
    return PACKAGED if PACKAGED.is_dir() else CHECKOUT


def path_of(name: str) -> Path | None:
    """The folder of the shipped model ``name`` (trailing slashes ignored), or None if no model
    ships under that name."""
    entry = SHIPPED.get(str(name).rstrip("/"))
    return None if entry is None else models_dir() / entry[0]


def locate(path: str | Path) -> Path | None:
    """``path`` itself where it exists (a path always wins), else the shipped model of that name,
    else None."""
    if Path(path).exists():
        return Path(path)
    return path_of(str(path))


def unknown(path: str | Path) -> str:
    """The one line for a model argument that is neither an existing path nor a shipped name."""
    return f"{path}: no such checkpoint, nor a shipped model's name ({', '.join(NAMES)}; or the peer {PEER})"


def describe() -> str:
    """The shipped names, one per line, with what each is (for help texts and docs)."""
    width = max(map(len, NAMES))
    return "\n".join(f"{name:<{width}}  {what}" for name, (_, what) in SHIPPED.items())
