"""On-the-fly mixtures as a chain of small stages: draw (which speakers, utterances, crops,
levels) -> read crops -> mix. A drawn ``MixtureSpec`` is plain data, so training draws fresh
ones every epoch while evaluation writes them to a trial list and renders the same mixtures
again anywhere."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from scipy.signal import firwin, oaconvolve
from torch.utils.data import Dataset

from ..audio import SAMPLE_RATE, AudioError, load_audio, resample
from ..corpus.manifest import Manifest, Utterance
from ..errors import CorpusError

log = logging.getLogger(__name__)

# (utterance, start, frames at the file's rate) -> mono float32 at 16 kHz: the file, or a decoded
# cache of it (``corpus.audio_cache.AudioCache.read``, bit-identical)
Reader = Callable[[Utterance, int, int], np.ndarray]

NYQUIST = SAMPLE_RATE / 2  # a cutoff there or above leaves a source as it is
CUTOFF_STEP_HZ = 50  # drawn cutoffs are rounded to it: few filter designs to cache


def read_file(utt: Utterance, start: int = 0, frames: int = -1) -> np.ndarray:
    return load_audio(utt.path, start=start, frames=frames)


@dataclass(frozen=True)
class MixtureSpec:
    """Everything needed to render one mixture of len(utterances) sources, `samples` long."""

    utterances: tuple[str, ...]  # utterance ids
    speakers: tuple[str, ...]
    offsets: tuple[int, ...]  # crop start in each file, in samples at the file's rate
    gains_db: tuple[float, ...]  # level of each source after RMS normalisation (source 0 at 0 dB)
    starts: tuple[int, ...]  # where each source begins inside the mixture (partial overlap)
    samples: int
    speeds: tuple[float, ...] = ()  # speed perturbation factor per source; empty = all 1.0
    cutoffs: tuple[float, ...] = ()  # low-pass cutoff (Hz) per source; empty = all full band

    def speed(self, i: int) -> float:
        return self.speeds[i] if self.speeds else 1.0

    def cutoff(self, i: int) -> float:
        return self.cutoffs[i] if self.cutoffs else NYQUIST

    def labels(self) -> tuple[str, ...]:
        """Speaker labels, a speed-perturbed voice counting as a speaker of its own (Kaldi's
        ``sp`` recipe): the classifier's classes."""
        return tuple(perturbed_speaker(s, self.speed(i)) for i, s in enumerate(self.speakers))

    def to_dict(self) -> dict:
        """Without ``cutoffs`` when there are none: trial lists written before band-limiting
        existed, and those written since without it, stay byte for byte the same."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items() if k != "cutoffs" or v
        }

    @classmethod
    def from_dict(cls, d: dict) -> MixtureSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class MixingConfig:
    n_speakers: int = 2
    crop_seconds: float = 3.0
    sir_db: tuple[float, float] = (-5.0, 5.0)  # uniform range of source 0's level over each other source
    overlap: tuple[float, float] = (1.0, 1.0)  # uniform range of the overlap ratio (1 = full overlap)
    speed_perturb: tuple[float, ...] = (1.0,)  # factors drawn per source (tempo and pitch)
    enroll_seconds: float = 0.0  # > 0: a crop of another utterance of each source's speaker comes beside it
    lowpass: float = 0.0  # probability that a source is band-limited
    lowpass_hz: tuple[float, float] = (4000.0, NYQUIST)  # uniform range of its cutoff

    @property
    def samples(self) -> int:
        return round(self.crop_seconds * SAMPLE_RATE)


def perturbed_speaker(speaker: str, speed: float) -> str:
    return speaker if speed == 1.0 else f"{speaker}-sp{speed:g}"


def speaker_labels(speakers: list[str], speeds: tuple[float, ...]) -> list[str]:
    """Every (speaker, speed) class, unperturbed speakers first in their own order."""
    ordered = sorted(speeds, key=lambda s: (s != 1.0, s))
    return [perturbed_speaker(spk, speed) for speed in ordered for spk in speakers]


UNKNOWN = -1  # the code of a speaker attribute the corpus does not know


def speaker_attributes(manifest: Manifest) -> dict[str, dict[str, int]]:
    """Each ``meta`` field that holds one value per speaker (gender, language, engine; not an
    utterance's own, such as ``derived_from``) -> {speaker: code}, codes in sorted value order.
    A speaker without the field is left out of its map: unknown, not a value of its own."""
    values: dict[str, dict[str, set[str]]] = {}
    for utt in manifest:
        for name, value in utt.meta.items():
            values.setdefault(name, {}).setdefault(utt.speaker, set()).add(value)
    attributes = {}
    for name, per_speaker in sorted(values.items()):
        if any(len(v) > 1 for v in per_speaker.values()):
            continue
        vocab = {v: i for i, v in enumerate(sorted({next(iter(v)) for v in per_speaker.values()}))}
        attributes[name] = {spk: vocab[next(iter(v))] for spk, v in per_speaker.items()}
    return attributes


def draw_mixture(
    manifest: Manifest,
    rng: np.random.Generator,
    cfg: MixingConfig,
    speakers: list[str] | None = None,
    among: Sequence[str] | None = None,
) -> MixtureSpec:
    """Draw distinct speakers (or use ``speakers``) from ``among`` (default: all of the
    manifest's), one utterance and one crop each. Band-limiting is drawn last, so a config
    without it draws every other value exactly as before."""
    n, samples = cfg.n_speakers, cfg.samples
    names = manifest.speakers if among is None else list(among)
    if speakers is None:
        if len(names) < n:
            raise CorpusError(f"{manifest.source}: {len(names)} speakers, cannot mix {n} distinct ones")
        speakers = [names[i] for i in rng.choice(len(names), size=n, replace=False)]
    utts = [manifest.by_speaker[s][rng.integers(len(manifest.by_speaker[s]))] for s in speakers]
    overlap = rng.uniform(*cfg.overlap)
    active = samples if n == 1 else round(samples * (1 + overlap * (n - 1)) / n)
    starts = [0] if n == 1 else [round(i * (samples - active) / (n - 1)) for i in range(n)]
    offsets = [int(rng.integers(max(1, u.num_samples - _file_samples(u, active) + 1))) for u in utts]
    gains = [0.0] + [-float(rng.uniform(*cfg.sir_db)) for _ in range(n - 1)]
    speeds = (
        tuple(float(x) for x in rng.choice(cfg.speed_perturb, size=n)) if len(cfg.speed_perturb) > 1 else ()
    )
    if speeds:  # a faster source reads more of its file for the same output length
        offsets = [
            int(rng.integers(max(1, u.num_samples - _file_samples(u, math.ceil(active * sp)) + 1)))
            for u, sp in zip(utts, speeds)
        ]
    cutoffs = ()
    if cfg.lowpass:
        limited, drawn = rng.random(n) < cfg.lowpass, rng.uniform(*cfg.lowpass_hz, size=n)
        cutoffs = tuple(
            float(round(c / CUTOFF_STEP_HZ) * CUTOFF_STEP_HZ) if lim else NYQUIST
            for lim, c in zip(limited, drawn)
        )
    return MixtureSpec(
        tuple(u.id for u in utts),
        tuple(speakers),
        tuple(offsets),
        tuple(gains),
        tuple(starts),
        samples,
        speeds,
        cutoffs,
    )


def _file_samples(utt: Utterance, samples_16k: int) -> int:
    return math.ceil(samples_16k * utt.sample_rate / SAMPLE_RATE)


def read_crop(
    utt: Utterance, offset: int, samples: int, speed: float = 1.0, read: Reader = read_file
) -> np.ndarray:
    """Up to ``samples`` samples at 16 kHz of ``utt`` from ``offset`` (in the file's samples),
    played ``speed`` times faster: only the span of the file that this needs is decoded."""
    wav = read(utt, offset, _file_samples(utt, math.ceil(samples * speed)))
    return speed_perturb(wav, speed)[:samples]


def speed_perturb(wav: np.ndarray, speed: float) -> np.ndarray:
    """Resampling by 1/speed, played at 16 kHz: faster and higher, like Kaldi's sp."""
    if speed == 1.0:
        return wav
    ratio = Fraction(speed).limit_denominator(100)
    return resample(wav, ratio.denominator, ratio.numerator)


def lowpass(wav: np.ndarray, cutoff: float) -> np.ndarray:
    """``wav`` without its content above ``cutoff`` Hz: a source band-limited like a recording
    made at a low rate (uqm's voices stop at 5.5 kHz), so that no voice is told apart by its
    bandwidth. A symmetric FIR, centred, so the source stays aligned with the mixture."""
    if cutoff >= NYQUIST:
        return wav
    return oaconvolve(wav, _lowpass_taps(cutoff), mode="same").astype(np.float32, copy=False)


@functools.lru_cache(maxsize=256)
def _lowpass_taps(cutoff: float) -> np.ndarray:
    """129 Kaiser-windowed taps (beta 8: about 80 dB down from cutoff + 320 Hz, flat to
    cutoff - 320 Hz). Designing them costs a quarter of filtering a 3-s crop: once per cutoff."""
    taps = firwin(129, cutoff, fs=SAMPLE_RATE, window=("kaiser", 8.0)).astype(np.float32)
    taps.flags.writeable = False
    return taps


def read_sources(spec: MixtureSpec, index: dict[str, Utterance], read: Reader = read_file) -> np.ndarray:
    """(N, samples) float32: each source's crop, band-limited where the spec says (before the
    level is set, so the SIR holds), RMS-normalised, scaled, placed at its start."""
    n = len(spec.utterances)
    active = spec.samples if n == 1 else spec.samples - spec.starts[-1]
    out = np.zeros((n, spec.samples), dtype=np.float32)
    for i, (uid, offset, gain, start) in enumerate(
        zip(spec.utterances, spec.offsets, spec.gains_db, spec.starts)
    ):
        wav = lowpass(read_crop(index[uid], offset, active, spec.speed(i), read), spec.cutoff(i))
        wav = wav / max(float(np.sqrt(np.mean(wav**2))), 1e-8) * 10 ** (gain / 20)
        out[i, start : start + len(wav)] = wav  # a short utterance is zero-padded
    return out


def read_enrollment(
    spec: MixtureSpec, manifest: Manifest, rng: np.random.Generator, seconds: float, read: Reader = read_file
) -> np.ndarray:
    """(N, samples) float32: for each source, a crop of another utterance of its speaker at the
    source's speed (a perturbed voice is a speaker of its own), RMS-normalised to 0.1. The
    mixture's own utterance is used only when the speaker has no other."""
    samples = round(seconds * SAMPLE_RATE)
    out = np.zeros((len(spec.speakers), samples), dtype=np.float32)
    for i, (speaker, uid) in enumerate(zip(spec.speakers, spec.utterances)):
        utts = manifest.by_speaker[speaker]
        others = [u for u in utts if u.id != uid] or utts
        utt = others[rng.integers(len(others))]
        speed = spec.speed(i)
        offset = int(
            rng.integers(max(1, utt.num_samples - _file_samples(utt, math.ceil(samples * speed)) + 1))
        )
        wav = read_crop(utt, offset, samples, speed, read)
        out[i, : len(wav)] = 0.1 * wav / max(float(np.sqrt(np.mean(wav**2))), 1e-8)
    return out


def mix(sources: np.ndarray, peak: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Sum the sources and scale mixture and sources together so the mixture cannot clip."""
    mixture = sources.sum(axis=0)
    scale = peak / max(float(np.abs(mixture).max()), peak)
    return mixture * scale, sources * scale


class MixtureDataset(Dataset):
    """``epoch_size`` mixtures per epoch, redrawn every epoch (``set_epoch``), each one a
    function of (seed, epoch, index) alone, so any number of DataLoader workers — or ranks —
    produce the same stream. A file that fails to read is logged and replaced by a fresh draw,
    so one bad file never stops an epoch."""

    def __init__(
        self,
        manifest: Manifest,
        cfg: MixingConfig,
        epoch_size: int,
        seed: int = 0,
        speaker_to_label: dict[str, int] | None = None,
        max_retries: int = 10,
        attributes: dict[str, dict[str, int]] | None = None,
        read: Reader = read_file,
        pools: Sequence[tuple[Collection[str], float]] = (),
    ):
        """``speaker_to_label``: the classes of ``labels``; by default every (speaker, speed) of
        ``manifest`` in ``speaker_labels`` order. ``attributes``: the speaker metadata each item
        carries as ``meta.NAME``, (N,) codes with ``UNKNOWN`` where it is missing; by default
        ``speaker_attributes(manifest)``. Pass one of each to datasets that must agree (training
        and validation). ``read``: where crops come from (a decoded-audio cache's ``read``).
        ``pools``: (speakers, weight) of each corpus joined in ``manifest``; each mixture then
        draws one corpus by weight and all its speakers from it, so the share of mixtures of two
        recorded voices is set, not left to the corpora's sizes. Empty: speakers drawn uniformly."""
        if speaker_to_label is None:
            speaker_to_label = {
                s: i for i, s in enumerate(speaker_labels(manifest.speakers, cfg.speed_perturb))
            }
        self.manifest, self.cfg, self.epoch_size = manifest, cfg, epoch_size
        self.speaker_to_label, self.seed, self.max_retries = speaker_to_label, seed, max_retries
        self.attributes = speaker_attributes(manifest) if attributes is None else attributes
        self.read = read
        self.index = manifest.index
        self.epoch = 0
        missing = {lab for s in manifest.speakers for lab in speaker_labels([s], cfg.speed_perturb)} - set(
            speaker_to_label
        )
        if missing:
            raise ValueError(f"{len(missing)} speakers have no label, e.g. {sorted(missing)[:3]}")
        self.pools = [[s for s in manifest.speakers if s in keep] for keep in (set(p) for p, _ in pools)]
        weights = np.array([w for _, w in pools], dtype=float)
        if pools and not weights.sum() > 0:
            raise ValueError(f"pools: at least one weight must be > 0, got {weights.tolist()}")
        self.pool_p = weights / weights.sum() if pools else weights
        small = [len(p) for p, w in zip(self.pools, weights) if w > 0 and len(p) < cfg.n_speakers]
        if small:
            raise CorpusError(
                f"{manifest.source}: a weighted pool has {small[0]} speaker(s), cannot mix {cfg.n_speakers}"
            )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.epoch_size

    def spec(self, i: int, attempt: int = 0) -> MixtureSpec:
        rng = np.random.default_rng([self.seed, self.epoch, i, attempt])
        among = self.pools[rng.choice(len(self.pools), p=self.pool_p)] if self.pools else None
        return draw_mixture(self.manifest, rng, self.cfg, among=among)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        for attempt in range(self.max_retries):
            spec = self.spec(i, attempt)
            try:
                sources = read_sources(spec, self.index, self.read)
                break
            except AudioError as exc:
                log.warning("skipping bad file while mixing (redrawing): %s", exc)
        else:
            raise CorpusError(
                f"{self.max_retries} consecutive mixtures hit unreadable files; see warnings above"
            )
        mixture, sources = mix(sources)
        labels = [self.speaker_to_label[s] for s in spec.labels()]
        item = {
            "mixture": torch.from_numpy(mixture),
            "sources": torch.from_numpy(sources),
            "labels": torch.tensor(labels, dtype=torch.long),
            "retries": torch.tensor(attempt),
            **{
                f"meta.{name}": torch.tensor([codes.get(s, UNKNOWN) for s in spec.speakers], dtype=torch.long)
                for name, codes in self.attributes.items()
            },
        }
        if self.cfg.enroll_seconds:
            rng = np.random.default_rng(
                [self.seed, self.epoch, i, attempt, 1]
            )  # the mixture's draws stay as they are
            item["enrollment"] = torch.from_numpy(
                read_enrollment(spec, self.manifest, rng, self.cfg.enroll_seconds, self.read)
            )
        return item


def split_utterances(manifest: Manifest, fraction: float, seed: int) -> tuple[Manifest, Manifest]:
    """Hold out ``fraction`` of every speaker's utterances (at least one), for validation
    mixtures of seen speakers that training never read.

    An utterance made from another one of the corpus (``meta["derived_from"]``: a transformed
    voice's copy, ``mirnet corpus transform``) follows its source: a copy of a held-out utterance
    is held out too, since it says the same words with the same timing, and adding copies leaves
    the originals' split exactly as it was (a run continued on more voices keeps its held-out set)."""
    rng = np.random.default_rng(seed)
    ids = {u.id for u in manifest}
    copies = [u for u in manifest if u.meta.get("derived_from") in ids]
    copied = {u.id for u in copies}
    keep, held = [], []
    for utts in manifest.by_speaker.values():
        utts = [u for u in utts if u.id not in copied]
        if not utts:
            continue
        k = max(1, round(len(utts) * fraction)) if len(utts) > 1 else 0
        order = rng.permutation(len(utts))
        held += [utts[i] for i in order[:k]]
        keep += [utts[i] for i in order[k:]]
    held_ids = {u.id for u in held}
    for u in copies:
        (held if u.meta["derived_from"] in held_ids else keep).append(u)
    return Manifest(keep, manifest.source), Manifest(held, manifest.source)
