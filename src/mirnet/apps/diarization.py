"""Who spoke when, overlaps included, in a recording of any length: windows -> the N identities
of each window -> clustering across windows -> a timeline -> RTTM.

- Windows (3 s, hop 1.5 s by default) are read one batch at a time, so memory stays flat in the
  file's length. A window with less than 0.3 s of speech (an energy detector on 10-ms frames)
  gives no identity, a digitally silent one too: the file is refused as a whole or not at all.
- A mixture embedder gives N identities per window. When two of them are closer than
  ``same_threshold`` (cosine similarity) they are taken as one talker, since a window where one
  person speaks still yields N outputs. A single-embedding system gives one identity per window:
  the baseline, which cannot mark overlap.
- Identities are clustered by scikit-learn's spectral clustering of a pruned cosine affinity
  (each identity linked to its nearest ``neighbours`` share, as NME-SC does), into K clusters: K
  given, or counted by the eigengap of the affinity's Laplacian. On the seen-voice conversations
  this took mirnet's DER from 33.3% (agglomerative, cosine distance threshold) to 25%, and its
  speaker-count accuracy from 42% to 92% (docs/lab/applications.md).
- Each window labels its core (the hop-long middle; the first and last windows reach the file's
  edges) with its identities' clusters, on its speech frames only: where a window holds two
  talkers, the timeline has overlap.
- A system that separates before it embeds (a separating embedder) also says *when* each
  identity talks: an identity is active in the 10-ms frames where its stream holds at least
  ``stream_floor_db`` of the mixture's energy, and a stream active for less than 0.3 s of the
  window's speech gives no identity (where one person talks, the second stream holds only
  residue, and its embedding would be clustered as a talker). Without streams an identity covers
  the whole core, so a window where one talker pauses while the other speaks marks both.

MIRNet's attention weights are not used as frame activity: the reference model's attention
streams stay near the symmetric solution (docs/model.md), so they do not tell its two talkers
apart in time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import SpectralClustering

from ..api import load
from ..audio import SAMPLE_RATE, check_audio, frame_db, read_audio
from ..checkpoint import resolve
from ..errors import InputError
from ..eval.evaluate import load_system, system_fingerprint
from ..eval.peers import PEERS
from ..eval.score_norm import SHIPPED_COHORT, Cohort, check_width, subtract_mean
from ..progress import Progress, silent
from .calibration import beside, read_calibration, shipped_calibration
from .conversation import Turn, write_rttm

# (B, samples) at 16 kHz -> (B, N, E), or -> ((B, N, E), (B, N, samples) streams or None)
EmbedFn = Callable[[torch.Tensor], torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]]
FRAME = 0.01  # seconds per activity frame
MIN_SPEECH = 0.3  # seconds of speech a window (or a separated stream in it) needs to give an identity


@dataclass(frozen=True)
class DiarizationSettings:
    window: float = 3.0
    hop: float = 1.5
    same_threshold: float = 0.8  # cosine similarity above which a window's outputs are one talker
    neighbours: float = 0.2  # share of the identities each is linked to in the affinity
    max_speakers: int = 8  # the most the eigengap may count
    speech_floor_db: float = -35.0  # a frame is speech within this of the window's loudest
    silence_dbfs: float = -60.0  # a window whose loudest frame is below this is silent
    fill_gap: float = 0.3  # a talker's pauses shorter than this (seconds) count as speech
    min_fit: float = 0.0  # a window's further identities closer than this to their cluster are dropped
    stream_floor_db: float = -10.0  # a stream is active where it holds this share of the mixture's energy
    batch: int = 16


def diarization_settings(
    model: str | Path,
    fingerprint: str,
    calibration: str | Path | None = None,
    cohort: str | Path | None = None,
    given: dict | None = None,
    calibrated: bool = True,
) -> tuple[DiarizationSettings, str | None]:
    """The settings and cohort ``model`` diarizes with: the defaults, then a tuned calibration's
    thresholds (``calibration``, else, where ``calibrated``, the one the model ships:
    ``calibration.SHIPPED``), then the ``given`` options that are not None. The cohort is the
    calibration's (``cohort`` may repeat it but not change it: settings tuned on centred
    identities hold for those only), else ``cohort``, else, where ``calibrated``, the one shipped
    beside the model (``score_norm.SHIPPED_COHORT``). A ``cohort`` other than the shipped
    calibration's sets that calibration aside (the defaults, centred on ``cohort``); other than
    a given calibration's, it is refused."""
    given_calibration = calibration is not None
    if calibration is None and calibrated:
        calibration = shipped_calibration(model, "diarize")
    base = {}
    if calibration is not None:
        how = "mirnet eval-diarization EXP --data SEEN --tune --json FILE"
        tuned = read_calibration(calibration, fingerprint, "settings", how)
        found = None if tuned.get("cohort") is None else str(beside(calibration, tuned["cohort"]))
        other = cohort is not None and Path(cohort).resolve() != (Path(found).resolve() if found else None)
        if other and given_calibration:
            raise InputError(
                f"--cohort {cohort}: {calibration} was tuned "
                + (f"with the cohort {tuned['cohort']}" if found else "without a cohort")
            )
        if not other:
            base, cohort = tuned["settings"], found
    elif cohort is None and calibrated and str(model) not in PEERS:
        shipped = resolve(model).parent / SHIPPED_COHORT
        cohort = str(shipped) if shipped.is_file() else None
    names = {f.name for f in fields(DiarizationSettings)}
    settings = DiarizationSettings(
        **{
            **{k: v for k, v in base.items() if k in names},
            **{k: v for k, v in (given or {}).items() if v is not None},
        }
    )
    return settings, None if cohort is None else str(cohort)


NAMING_SECONDS = 10.0  # of a speaker's single-talker speech embedded to name it from a gallery


@dataclass
class Diarization:
    uri: str
    turns: list[Turn]
    speakers: int
    windows: int
    seconds: float

    def write(self, path: str | Path) -> Path:
        return write_rttm(path, self.uri, self.turns)

    def to_dict(self) -> dict:
        return {**asdict(self), "turns": [asdict(t) for t in self.turns]}

    def alone(self, speaker: str, seconds: float = NAMING_SECONDS) -> list[tuple[float, float]]:
        """Up to ``seconds`` of the stretches where ``speaker`` talks and no one else does, the
        longest first: what to embed to name the speaker."""
        others = [(t.start, t.end) for t in self.turns if t.speaker != speaker]
        pieces = []
        for t in (t for t in self.turns if t.speaker == speaker):
            cuts = sorted((max(a, t.start), min(b, t.end)) for a, b in others if a < t.end and b > t.start)
            at = t.start
            for a, b in cuts:
                if a > at:
                    pieces.append((at, a))
                at = max(at, b)
            if t.end > at:
                pieces.append((at, t.end))
        chosen, total = [], 0.0
        for a, b in sorted(pieces, key=lambda p: p[0] - p[1]):
            if total >= seconds:
                break
            chosen.append((a, min(b, a + seconds - total)))
            total += chosen[-1][1] - a
        return sorted(chosen)

    def renamed(self, names: dict[str, str]) -> Diarization:
        """The same timeline with each speaker label in ``names`` replaced by its name."""
        turns = [Turn(names.get(t.speaker, t.speaker), t.start, t.end) for t in self.turns]
        return Diarization(self.uri, turns, self.speakers, self.windows, self.seconds)


def _speech_frames(wav: np.ndarray, s: DiarizationSettings) -> np.ndarray:
    energy = frame_db(wav, round(FRAME * SAMPLE_RATE))
    if len(energy) == 0 or energy.max() < s.silence_dbfs:
        return np.zeros(len(energy), bool)
    return energy > energy.max() + s.speech_floor_db


def _windows(path: Path, s: DiarizationSettings, progress: Progress):
    """Yields (start in seconds, waveform, speech frames) of each window, reading only it.

    The file is checked once, as a whole, as ``load_audio`` checks a file (``check_audio``,
    without holding it); its windows are not: a window of digital silence is a pause between
    turns, and gives no speech frames."""
    frames, rate, _ = check_audio(path)
    seconds = frames / rate
    width, step = s.window, s.hop
    starts = np.arange(0.0, max(seconds - width, 0.0) + step, step) if seconds > width else np.zeros(1)
    for start in progress(starts, desc=f"diarizing {path.name}", unit="win", leave=False):
        wav = read_audio(path, start=round(start * rate), frames=round(width * rate))
        yield float(start), wav, _speech_frames(wav, s)


def _talking(w: WindowOutputs, s: DiarizationSettings) -> list[np.ndarray]:
    """For each window, the outputs that give an identity: all of them, or with streams those
    active for ``MIN_SPEECH`` of the window's speech (at least the most active one)."""
    if w.shares is None:
        return [np.arange(len(o)) for o in w.outputs]
    kept = []
    for start, share in zip(w.starts, w.shares):
        at = round(start / FRAME)
        speech = w.speech[at : at + share.shape[1]]
        talks = ((share[:, : len(speech)] >= s.stream_floor_db) & speech).sum(1)
        keep = np.flatnonzero(talks >= round(MIN_SPEECH / FRAME))
        kept.append(keep if len(keep) else talks.argmax(keepdims=True))
    return kept


def _identities(
    emb: np.ndarray, same: float, outputs: np.ndarray | None = None
) -> tuple[np.ndarray, list[list[int]]]:
    """(N, D) unit outputs of one window -> (k, D), outputs closer than ``same`` merged, and the
    outputs each of the k identities stands for (indices into ``outputs``, when given)."""
    outputs = np.arange(len(emb)) if outputs is None else outputs
    sim = emb @ emb.T
    keep, groups, taken = [], [], set()
    for i in range(len(emb)):
        if i in taken:
            continue
        group = [i] + [j for j in range(i + 1, len(emb)) if j not in taken and sim[i, j] >= same]
        taken.update(group)
        groups.append([int(outputs[j]) for j in group])
        mean = emb[group].mean(0)
        keep.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    return np.stack(keep), groups


def stream_share_db(wav: np.ndarray, streams: np.ndarray) -> np.ndarray:
    """A window's mixture (samples,) and its separated streams (N, samples) -> (N, frames): each
    stream's energy relative to the mixture's, in dB per 10-ms frame."""
    hop = round(FRAME * SAMPLE_RATE)
    mixture = frame_db(wav, hop)
    return np.stack([frame_db(s[: len(wav)], hop) for s in streams]) - mixture


def affinity(identities: np.ndarray, neighbours: float) -> np.ndarray:
    """(M, D) unit identities -> (M, M) symmetric 0/0.5/1 affinity: each identity linked to its
    ``neighbours`` share of most similar ones (the pruning of NME-SC, Park et al. 2019), so that
    clusters of very different sizes stay connected inside and apart from each other."""
    sim = identities @ identities.T
    k = max(2, int(neighbours * len(identities)))
    a = np.zeros_like(sim)
    np.put_along_axis(a, np.argsort(-sim, axis=1)[:, :k], 1.0, axis=1)
    return (a + a.T) / 2


def count_speakers(a: np.ndarray, most: int, least: int = 1) -> int:
    """The speaker count in [least, most] at the largest gap between the smallest eigenvalues of
    the affinity's graph Laplacian (the eigengap heuristic)."""
    eigenvalues = np.linalg.eigvalsh(np.diag(a.sum(1)) - a)[: most + 1]
    least = min(least, most)
    gaps = np.diff(eigenvalues)[least - 1 : most]
    # of tied gaps (a cap below the true count leaves only the zeros of connected pieces) the larger count
    return int(np.flatnonzero(gaps >= gaps.max() - 1e-6)[-1] + least)


def check_counts(speakers: int | None, least: int | None, most: int | None) -> None:
    """The speaker count, or bounds on it, as pyannote takes them (num / min / max speakers)."""
    if speakers is not None and (least is not None or most is not None):
        raise InputError("give the number of speakers or bounds on it, not both")
    if least is not None and most is not None and least > most:
        raise InputError(f"--min-speakers {least} is above --max-speakers {most}")


def cluster(
    identities: np.ndarray,
    s: DiarizationSettings,
    speakers: int | None = None,
    max_speakers: int | None = None,
    min_speakers: int | None = None,
) -> np.ndarray:
    """(M, D) unit identities -> cluster label per identity, 0..K-1: spectral clustering of the
    pruned affinity, K given or counted by the eigengap (between ``min_speakers`` and
    ``max_speakers``)."""
    m = len(identities)
    if m < 3:
        return np.zeros(m, int)
    a = affinity(identities, s.neighbours)
    most = min(max_speakers or max(s.max_speakers, min_speakers or 1), m - 1)
    k = speakers if speakers is not None else count_speakers(a, most, min_speakers or 1)
    if min(k, m) < 2:
        return np.zeros(m, int)
    with warnings.catch_warnings():  # a graph in several pieces is what well-separated talkers give
        warnings.filterwarnings("ignore", "Graph is not fully connected", UserWarning)
        return SpectralClustering(n_clusters=min(k, m), affinity="precomputed", random_state=0).fit_predict(a)


@dataclass
class WindowOutputs:
    """What the embedder said about each window of one recording: all that clustering needs, so
    settings can be tried again without embedding again (``apps.diarization_scoring.tune``)."""

    uri: str
    starts: list[float]  # seconds, of the windows with speech
    outputs: list[np.ndarray]  # (N, D) unit embeddings per window with speech
    speech: np.ndarray  # (frames,) bool at FRAME resolution over the whole file
    seconds: float
    windows: int  # all windows, silent ones included
    # (N, frames) per window with speech, ``stream_share_db`` of each output, from a system with streams
    shares: list[np.ndarray] | None = None


def embed_windows(
    embed: EmbedFn, path: str | Path, settings: DiarizationSettings | None = None, progress: Progress = silent
) -> WindowOutputs:
    """Slide windows over the file at ``path``, a batch at a time, and embed those with speech."""
    s = settings or DiarizationSettings()
    path = Path(path)
    if s.hop > s.window:
        raise InputError(f"hop ({s.hop} s) longer than the window ({s.window} s) would skip audio")
    width = round(s.window * SAMPLE_RATE)
    starts, outputs, shares, speech, batch = [], [], [], [], []
    min_frames = round(MIN_SPEECH / FRAME)

    def flush():
        if batch:
            wavs = torch.from_numpy(np.stack([np.pad(w, (0, width - len(w))) for _, w in batch]))
            with torch.inference_mode():
                out = embed(wavs)
            emb, streams = out if isinstance(out, tuple) else (out, None)
            starts.extend(start for start, _ in batch)
            outputs.extend(F.normalize(emb.float(), dim=-1).numpy())
            if streams is not None:
                shares.extend(stream_share_db(w, x) for (_, w), x in zip(batch, streams.float().numpy()))
            batch.clear()

    total = 0.0
    for start, wav, frames in _windows(path, s, progress):
        total = max(total, start + len(wav) / SAMPLE_RATE)
        speech.append((start, frames))
        if frames.sum() >= min_frames:
            batch.append((start, wav))
        if len(batch) == s.batch:
            flush()
    flush()
    n_frames = round(total / FRAME) + 1
    is_speech = np.zeros(n_frames, bool)
    for start, frames in speech:
        at = round(start / FRAME)
        is_speech[at : at + len(frames)] |= frames[: n_frames - at]
    return WindowOutputs(path.stem, starts, outputs, is_speech, total, len(speech), shares or None)


def assemble(
    w: WindowOutputs,
    settings: DiarizationSettings | None = None,
    *,
    speakers: int | None = None,
    max_speakers: int | None = None,
    min_speakers: int | None = None,
) -> Diarization:
    """A recording's window outputs -> its speakers' timeline."""
    s = settings or DiarizationSettings()
    check_counts(speakers, min_speakers, max_speakers)
    if not w.outputs:
        return Diarization(w.uri, [], 0, w.windows, w.seconds)
    found, groups = zip(*(_identities(o[k], s.same_threshold, k) for o, k in zip(w.outputs, _talking(w, s))))
    owners = np.concatenate([np.full(len(f), i) for i, f in enumerate(found)])
    identities = np.concatenate(found)
    labels = cluster(identities, s, speakers, max_speakers, min_speakers)
    k = int(labels.max()) + 1
    centroids = np.stack([identities[labels == c].mean(0) for c in range(k)])
    fit = np.einsum("md,md->m", identities, centroids[labels]) / np.linalg.norm(centroids[labels], axis=1)
    best = np.zeros(len(fit), bool)  # each window keeps its best-fitting identity
    for i in range(len(found)):
        mine = np.flatnonzero(owners == i)
        best[mine[fit[mine].argmax()]] = True
    labels = np.where(best | (fit >= s.min_fit), labels, -1)
    n_frames = len(w.speech)
    active = np.zeros((k, n_frames), bool)
    margin = (s.window - s.hop) / 2
    for i, start in enumerate(w.starts):
        lo = 0 if start == 0 else round((start + margin) / FRAME)
        last = i == len(w.starts) - 1
        hi = n_frames if last else round((start + margin + s.hop) / FRAME)
        at = round(start / FRAME)
        for c, group in zip(labels[owners == i], groups[i]):
            if c < 0:
                continue
            if w.shares is None:
                active[c, lo:hi] = True
                continue
            talks = (w.shares[i][group] >= s.stream_floor_db).any(0)  # over the window's frames
            span = talks[max(lo - at, 0) : hi - at]
            active[c, lo : lo + len(span)] |= span
    active &= w.speech
    return Diarization(w.uri, _turns(active, s.fill_gap), k, w.windows, w.seconds)


def load_diarizer(exp: str | Path, cohort: str | Path | None = None) -> EmbedFn:
    """The embed function that diarizes with the system ``exp`` names: a mirnet model's gives its
    separated streams beside its identities when it has them (a separating embedder). With a
    ``cohort`` of the same system (``mirnet cohort``), each identity is taken less the cohort's mean
    embedding before a window's outputs are merged and the file's identities clustered: GE2E's
    embeddings pass a ReLU, so any two talkers' raw cosines share a large common part, and a fixed
    threshold merges two talkers into one (docs/lab/applications.md measures what this changes)."""
    embed = load_system(exp)[0] if str(exp) in PEERS else load(exp).embed_streams_batch
    if cohort is None:
        return embed
    found = Cohort.load(cohort, system_fingerprint(exp))
    centre = torch.as_tensor(found.embeddings).float().mean(0)

    def centred(wavs: torch.Tensor):
        out = embed(wavs)
        emb, streams = out if isinstance(out, tuple) else (out, None)
        check_width(found.embeddings, emb.shape[-1], found.source)
        return subtract_mean(emb, centre), streams

    return centred


def diarize(
    embed: EmbedFn | str | Path,
    path: str | Path,
    settings: DiarizationSettings | None = None,
    *,
    speakers: int | None = None,
    max_speakers: int | None = None,
    min_speakers: int | None = None,
    progress: Progress = silent,
    cohort: str | Path | None = None,
) -> Diarization:
    """Diarize the recording at ``path`` with an embed function, or with the system an experiment
    dir, model file, shipped name or peer (``resemblyzer``) names, its identities centred on
    ``cohort`` (``load_diarizer``). A system given by name or path with neither ``settings`` nor
    ``cohort`` diarizes as the CLI does: with what its folder ships (``diarization_settings``)."""
    if not callable(embed):
        if settings is None and cohort is None:
            settings, cohort = diarization_settings(embed, system_fingerprint(embed))
        embed = load_diarizer(embed, cohort)
    elif cohort is not None:
        raise InputError("a cohort centres the identities of a system loaded here: give the system's path")
    check_counts(speakers, min_speakers, max_speakers)
    windows = embed_windows(embed, path, settings, progress)
    return assemble(
        windows, settings, speakers=speakers, max_speakers=max_speakers, min_speakers=min_speakers
    )


def _turns(active: np.ndarray, min_gap: float = 0.3, min_turn: float = 0.2) -> list[Turn]:
    """(K, frames) activity -> turns, gaps shorter than ``min_gap`` filled and turns shorter than
    ``min_turn`` dropped."""
    turns = []
    for c, row in enumerate(active):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
        runs = [[a, b] for a, b in zip(edges[::2], edges[1::2])]
        merged: list[list[int]] = []
        for a, b in runs:
            if merged and a - merged[-1][1] < min_gap / FRAME:
                merged[-1][1] = b
            else:
                merged.append([a, b])
        turns += [
            Turn(f"spk{c}", round(a * FRAME, 3), round(b * FRAME, 3))
            for a, b in merged
            if b - a >= min_turn / FRAME
        ]
    return sorted(turns, key=lambda t: (t.start, t.speaker))
