"""The recorded-speech corpus: real people's voices from four Debian packages (uqm-voice's
game actors, ktuberling's and klettres' readers, pocketsphinx's test recordings), written in the
synthesized corpus's LibriSpeech layout so that every reader, mixer and evaluator takes it as it
is. Synthesized voices have no breath, room or microphone; models trained on them alone fail on
people.

A package folder is not always one voice, and one person may lend several folders their voice.
Which files make each speaker, which are dropped, which voices may be one person (``group``) and
which are held out was decided once from stock resemblyzer embeddings and F0 (docs/lab/corpora.md,
"A folder is not always one voice") and is fixed in ``VOICES``: a build runs neither, and gives the same
corpus on every machine. Each utterance is a pure function of (seed, voice), so a build may stop
anywhere and resume, and two builds are byte-identical.
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import io
import json
import logging
import math
import os
import pathlib
import subprocess
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import soundfile as sf

from mirnet.atomic import write_text
from mirnet.audio import SAMPLE_RATE, AudioError, check_waveform, frame_db, save_audio, to_mono_16k
from mirnet.errors import CorpusError, InputError, MissingDependency

from ..progress import Progress, bars
from .corpus_layout import MANIFEST, complete, write_if_changed
from .voices import worker_pool

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump whenever the same arguments would give different audio
MIN_SECONDS = 4.0  # shorter pieces (words, short lines) are joined until an utterance reaches this
MAX_SECONDS = 10.0  # longer lines are cut at their quietest frame into pieces of 4-11 s
PAUSE_SECONDS = (0.15, 0.3)  # silence between joined pieces
# a piece starts and ends where its 10-ms frames rise 6 dB above its noise floor (the 10th
# percentile: the readers' words sit on hiss 25-38 dB below them), within 20-40 dB of its peak
_FLOOR_ABOVE_NOISE_DB, _FLOOR_RANGE_DB, _PAD = 6.0, (-40.0, -20.0), 0.08
_CUT_WINDOW = 0.5  # a long line is cut within this many seconds of an equal split
_AUDIO = (".ogg", ".opus", ".wav", ".flac")
_INSTALL = "scripts/install_recorded.sh"


@dataclass(frozen=True)
class Source:
    package: str
    root: str  # where Debian installs it; ``roots`` points elsewhere
    licence: str  # as /usr/share/doc/<package>/copyright states it
    archive: str = ""  # uqm-voice: the zip archive inside root that holds every line


SOURCES = {
    "uqm": Source(
        "uqm-voice", "/usr/share/games/uqm/content/addons", "CC BY-NC-SA 2.5", "uqm-0.8.0-voice.uqm"
    ),
    "ktuberling": Source("ktuberling-data", "/usr/share/ktuberling/sounds", "GPL-2+"),
    "klettres": Source("klettres-data", "/usr/share/klettres", "GPL-2+"),
    "pocketsphinx": Source("pocketsphinx-testdata", "/usr/share/pocketsphinx/test/data", "BSD-2-Clause"),
}


@dataclass(frozen=True)
class RecordedVoice:
    """One speaker: the files of ``folders`` (inside its source's root) whose names match an
    ``include`` pattern and no ``exclude`` one. ``group``: voices that may be one person (one
    actor's characters, readers the embeddings cannot tell apart), always in the same subset."""

    id: str
    name: str  # <source>/<voice>
    folders: tuple[str, ...]
    language: str
    gender: str  # M, F or ? (uqm: the actor's; otherwise estimated from median F0)
    group: str
    subset: str  # seen (training) or unseen (evaluation only)
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return self.name.split("/")[0]

    @property
    def chapter(self) -> str:
        return f"{self.id}1"

    def chapter_dir(self, out: pathlib.Path) -> pathlib.Path:
        return out / self.subset / self.id / self.chapter

    def sources_path(self, out: pathlib.Path) -> pathlib.Path:
        """Where each utterance came from; written last, so it marks the speaker as done."""
        return self.chapter_dir(out) / f"{self.id}-{self.chapter}.sources.tsv"


def _lines(folder: str, numbers: str) -> tuple[str, ...]:
    """uqm line files from their numbers ("0 4 10-12")."""
    out = []
    for item in numbers.split():
        low, _, high = item.partition("-")
        out += [f"{folder}-{n:03d}.ogg" for n in range(int(low), int(high or low) + 1)]
    return tuple(out)


def _uqm(id_, voice, gender, group=None, subset="seen", folders=None, include=("*",), exclude=()):
    folders = folders or (voice.split("-")[0],)
    return RecordedVoice(id_, f"uqm/{voice}", folders, "en", gender, group or id_, subset, include, exclude)


def _kt(id_, voice, gender, group=None, subset="seen", include=("*",), exclude=()):
    folder = voice.split("-")[0]
    exclude = ("*zzz*", *exclude)  # snoring, not speech
    return RecordedVoice(
        id_, f"ktuberling/{voice}", (folder,), folder, gender, group or id_, subset, include, exclude
    )


def _kl(id_, voice, gender, group=None, subset="seen", folders=None):
    language = voice.split("-")[0]
    folders = folders or (f"{language}/alpha", f"{language}/syllab")
    return RecordedVoice(id_, f"klettres/{voice}", folders, language, gender, group or id_, subset)


# Zoq-Fot-Pik's lines alternate between two voices (k-means on the lines of 2 s or more; the
# shorter ones and those within 0.03 of both centres are dropped)
_ZFP_LOW = _lines(
    "zoqfotpik",
    "0 4 8 10 14 22 32 36 38 44 50 52 54 56 72 76 78 80 82 88 90 92 94 98 100 102 110 112 116 118 120 "
    "122 124 126 128 130 134 142 144 146 148 150 152 154 156 158 162 164 166 168 170 174 176 178 180 "
    "182 184 188 190 192 194 196 198 200 202 204 206 208 210 214 216 218 220 222 224 226 228 230 232 "
    "234 242 244 249 251 253 255 257 259 261 263 265 269 271 273 275 277 279 281 283 285 287",
)
_ZFP_HIGH = _lines(
    "zoqfotpik",
    "1 3 9 11 13 15 20 21 24 27 31 33 35 37 45 47 49 51 53 57 59 61 63 65 67 69 71 73-75 77 79 81 83 "
    "85 87 89 91 93 95 97 99 101 103 109 111 113 119 121 123 125 127 129 131 132 135 137 139 141 143 "
    "145 149 155 157 159 163 167 169 171 173 175 177 179 181 183 185 193 195 197 199 201 203 205 207 "
    "209 211 215 217 221 223 225 229 231 235 236 241 243 245 247 250 252 254 256 258 260 262 264 266 "
    "268 270 272 274 276 278 280 282 284 286 288",
)
# ktuberling: folders read by two people, told apart by theme (the clusters of their words)
_CA_B = tuple(
    (
        "*-Tux.ogg say-* pizzeria_* apple.ogg arrow*.ogg bow*.ogg bullseye.ogg candles*.ogg fish.ogg "
        "flask*.ogg goblet.ogg guitar.ogg key.ogg letter*.ogg note*.ogg plate.ogg teacup.ogg vase.ogg "
        "wanted.ogg white-dowe*.ogg"
    ).split()
)
_TV_FIVE = tuple(f"tv_{w}.ogg" for w in "bicycle car cyclist train tree".split())  # another voice in en
_RU_A = ("*tux*", "xmas_*") + tuple(
    f"tv_{w}.ogg"
    for w in (
        "accident ball barrier breakdown_lorry caravan elephant excavator fence fire fireengine fireman "
        "fisherman giraffe guitar guitarist house ladder lion lorry lorry_tractor man mechanic monkey path "
        "rock school shop smoke tipper trailer tunnel volley_net wagon woman"
    ).split()
)
_FR_B = tuple(
    f"{prefix}{word}.wav"
    for word in (
        "bouche boucle-d-oreille chapeau cravate lunettes-de-soleil lunettes moustache nez "
        "noeud-papillon oeil oreille sourcil"
    ).split()
    for prefix in ("", "patate_")
)
_FR_OTHER = ("cheveux.wav", "patate_cheveux.wav")  # a third voice, two words

# group: the first voice of the voices that may be one person (the same 3DO actor; or a cross-voice
# resemblyzer similarity of 0.80, or 0.92 of the lower cohesion, on the built utterances)
VOICES: tuple[RecordedVoice, ...] = (
    # uqm-voice: one voice per character
    _uqm("3001", "arilou", "M"),  # 3001: Rick Betz, David Bryce, Larry Zee and voices like theirs
    _uqm("3002", "chmmr", "M", "3001", exclude=_lines("chmmr", "35")),
    _uqm("3003", "commander", "M", subset="unseen", folders=("commander", "starbase")),
    _uqm("3004", "druuge", "M", "3001"),
    _uqm("3005", "ilwrath", "M", "3001"),
    _uqm("3006", "kohrah", "M", "3001", exclude=_lines("kohrah", "27")),
    _uqm("3007", "melnorme", "M", "3001", exclude=_lines("melnorme", "74 172-188 191 193-202 204")),
    _uqm("3008", "mycon", "M", "3001"),
    _uqm("3009", "orz", "M"),  # 3009: Greg Johnson
    _uqm("3010", "pkunk", "M", "3009"),
    _uqm("3011", "probe", "M", subset="unseen", exclude=_lines("probe", "0 7 30-64")),
    _uqm("3012", "shofixti", "M", "3001"),
    _uqm("3013", "slylandro", "?", subset="unseen", exclude=_lines("slylandro", "50")),
    _uqm(
        "3014",
        "spathi",
        "M",
        "3001",
        folders=("spathi", "safeones"),
        exclude=_lines("safeones", "18 21 22 41 60 68 69"),
    ),
    _uqm("3015", "supox", "?", subset="unseen"),
    _uqm("3016", "syreen", "F", exclude=_lines("syreen", "69")),  # 3016: Madeleine Wild
    _uqm("3017", "talkingpet", "?", "3001"),
    _uqm("3018", "thraddash", "M", "3001"),
    _uqm("3019", "umgah", "M", "3001"),
    _uqm("3020", "urquan", "M", "3001"),
    _uqm("3021", "utwig", "M", "3009"),
    _uqm("3022", "vux", "F", "3016"),
    _uqm("3023", "yehat", "?", subset="unseen", folders=("yehat", "yehatrebels")),
    _uqm("3024", "zoqfotpik-low", "F", "3016", include=_ZFP_LOW),
    _uqm("3025", "zoqfotpik-high", "F", "3016", include=_ZFP_HIGH),
    # ktuberling-data: one reader per language folder, but ca, da, fr and ru hold two
    _kt("3101", "ca-a", "F", exclude=_CA_B),
    _kt("3102", "ca-b", "M", include=_CA_B),
    _kt("3103", "da-a", "M", exclude=("*tux*", "xmas_*")),
    _kt("3104", "da-b", "F", include=("*tux*", "xmas_*")),
    _kt("3105", "de", "M"),
    _kt("3106", "el", "M"),
    _kt("3107", "en", "M", exclude=_TV_FIVE),
    _kt("3108", "es", "M"),
    _kt("3109", "fi", "?"),
    _kt("3110", "fr-a", "M", exclude=_FR_B + _FR_OTHER),
    _kt("3111", "fr-b", "F", include=_FR_B),
    _kt("3112", "ga", "M"),
    _kt("3113", "gl", "?"),
    _kt("3114", "it", "F"),
    _kt("3115", "lt", "M", subset="unseen"),
    _kt("3116", "nds", "M"),
    _kt("3117", "nl", "?", "3109"),
    _kt("3118", "nn", "F", subset="unseen"),
    _kt("3119", "pt", "F"),
    _kt("3120", "ro", "F"),
    _kt("3121", "ru-a", "F", subset="unseen", include=_RU_A),
    _kt("3122", "ru-b", "M", exclude=_RU_A),
    _kt("3123", "sl", "M"),
    _kt("3124", "sr", "F", "3104"),
    _kt("3125", "sv", "F"),
    _kt(
        "3126",
        "uk",
        "F",
        subset="unseen",
        exclude=("train_valley.theme.ogg", "tie.ogg", "tv_ball.ogg", "tv_caravan.ogg"),
    ),
    _kt("3127", "wa", "M", subset="unseen"),
    # klettres-data: one reader per language (letters and syllables), but German has two
    _kl("3201", "ar", "F", folders=("ar/alpha",)),
    _kl("3202", "cs", "F"),
    _kl("3203", "da", "M"),
    _kl("3204", "de-alpha", "F", "3111", folders=("de/alpha",)),
    _kl("3205", "de-syllab", "M", folders=("de/syllab",)),
    _kl("3206", "en", "M"),
    _kl("3207", "en_GB", "F", "3202"),
    _kl("3208", "es", "F", subset="unseen"),
    _kl("3209", "fr", "M"),
    _kl("3210", "he", "M"),
    _kl("3211", "hu", "M", subset="unseen"),
    _kl("3212", "it", "F", "3104"),
    _kl("3213", "lt", "M"),
    _kl("3214", "ml", "M", subset="unseen"),
    _kl("3215", "nb", "F", folders=("nb/alpha",)),
    _kl("3216", "nds", "M"),
    _kl("3217", "nl", "F"),
    _kl("3218", "pt_BR", "?", "3109"),
    _kl("3219", "ru", "F", subset="unseen"),
    _kl("3220", "tn", "?", "3109"),
    _kl("3221", "uk", "F"),
    # pocketsphinx-testdata: a LibriVox reader and a card-game speaker
    RecordedVoice("3301", "pocketsphinx/librivox", ("librivox",), "en", "M", "3301", "unseen"),
    RecordedVoice("3302", "pocketsphinx/cards", ("cards",), "en", "M", "3302", "seen"),
)

# Folders with audio that no voice reads, and why.
SKIPPED_FOLDERS = {
    "ktuberling/sr@ijekavian": "byte-identical copy of sr",
    "ktuberling/sr@ijekavianlatin": "byte-identical copy of sr",
    "ktuberling/sr@latin": "byte-identical copy of sr",
    "pocketsphinx/.": "goforward.raw, numbers.raw, something.raw: headerless, 3 s each, unknown speakers",
    "pocketsphinx/tidigits": "one 2.4-s digit string of an unknown speaker",
}


def build_recorded_corpus(
    out_dir: str | os.PathLike,
    *,
    speakers: list[str] | None = None,
    max_utterances: int | None = None,
    seed: int = 0,
    roots: Mapping[str, str | os.PathLike] | None = None,
    jobs: int | None = None,
    progress: Progress = bars,
) -> pathlib.Path:
    """Write (or complete) the recorded corpus in ``out_dir`` and return its path.

    ``speakers`` (voice names as ``uqm/orz`` or IDs) and ``max_utterances`` per speaker build a
    part of it, quickly: a capped speaker's utterances are the first ones of the full build.
    ``roots`` maps a package name to where its files are instead of Debian's place.
    A complete corpus made with the same arguments is returned untouched; a partial one is
    resumed speaker by speaker.
    """
    chosen = select_voices(speakers)
    if max_utterances is not None and max_utterances < 1:
        raise InputError(f"max_utterances must be at least 1, got {max_utterances}")
    if jobs is not None and jobs < 1:
        raise InputError(f"jobs must be at least 1, got {jobs}")
    resolved = _roots(roots)
    out = pathlib.Path(out_dir)
    args = {
        "speakers": None if speakers is None else [v.id for v in chosen],
        "max_utterances": max_utterances,
        "seed": seed,
        "roots": {SOURCES[s].package: str(resolved[s]) for s in sorted({v.source for v in chosen})},
        "voices_sha256": hashlib.sha256(repr(VOICES).encode()).hexdigest(),
        "format": FORMAT_VERSION,
    }
    path = out / MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else None
    if manifest is not None and manifest.get("args") != args:
        raise FileExistsError(
            f"{out} holds a corpus made with other arguments ({manifest.get('args')}); "
            "delete it or choose another directory"
        )
    todo = [v for v in chosen if not _done(out, v)]
    if manifest is not None and manifest["complete"] and not todo:
        log.info("%s: complete corpus with the same arguments, nothing to do", out)
        return out
    check_sources(chosen, resolved)
    if manifest is None:
        manifest = _start(out, args, chosen)
    jobs_ = [(v, resolved[v.source], seed, max_utterances, out) for v in todo]
    jobs_.sort(key=lambda j: j[0].source != "uqm")  # the longest first, so the workers end together
    workers = min(jobs or os.cpu_count() or 1, len(jobs_))
    with progress(total=len(jobs_), unit="speaker", desc="recorded") as bar:
        if workers <= 1:  # no pool to start: the tests' small builds
            for job in jobs_:
                _build_speaker(job)
                bar.update()
        else:
            with worker_pool(workers) as pool:
                for _ in pool.imap_unordered(_build_speaker, jobs_):
                    bar.update()
    _finish(out, manifest, chosen)
    return out


def select_voices(speakers: list[str] | None) -> list[RecordedVoice]:
    """``VOICES``, or those named (by name or ID); an unknown name is refused with the list."""
    if speakers is None:
        return list(VOICES)
    by_key = {v.name: v for v in VOICES} | {v.id: v for v in VOICES}
    unknown = [s for s in speakers if s not in by_key]
    if unknown:
        raise InputError(f"unknown recorded voices {unknown}; known: {', '.join(v.name for v in VOICES)}")
    wanted = {by_key[s].id for s in speakers}
    return [v for v in VOICES if v.id in wanted]


def _roots(roots: Mapping[str, str | os.PathLike] | None) -> dict[str, pathlib.Path]:
    """Source key -> root folder, with ``roots`` (keyed by package name) over Debian's."""
    by_package = {s.package: key for key, s in SOURCES.items()}
    unknown = sorted(set(roots or {}) - set(by_package))
    if unknown:
        raise InputError(f"unknown packages {unknown} in roots; expected some of {sorted(by_package)}")
    given = {by_package[p]: pathlib.Path(r) for p, r in (roots or {}).items()}
    return {key: given.get(key, pathlib.Path(s.root)) for key, s in SOURCES.items()}


def check_sources(voices: list[RecordedVoice], roots: dict[str, pathlib.Path]) -> None:
    """Every folder the voices read is there, or one line says which package to install."""
    for key in sorted({v.source for v in voices}):
        source, root = SOURCES[key], roots[key]
        where = root / source.archive if source.archive else root
        missing = not where.is_file() if source.archive else not root.is_dir()
        if not missing and not source.archive:
            missing = any(not (root / f).is_dir() for v in voices if v.source == key for f in v.folders)
        if missing:
            raise MissingDependency(
                f"{where}: not found; the recorded corpus needs the Debian package {source.package} "
                f"({_INSTALL}, or sudo apt-get install {source.package}"
                + ("; it is in contrib)" if key == "uqm" else ")")
            )


def _done(out: pathlib.Path, voice: RecordedVoice) -> bool:
    path = voice.sources_path(out)
    if not path.is_file():
        return False
    utterances = {row[0] for row in _read_sources(path)}
    return all((voice.chapter_dir(out) / f"{u}.flac").is_file() for u in utterances)


def _start(out: pathlib.Path, args: dict, voices: list[RecordedVoice]) -> dict:
    """A first, incomplete manifest: what is being built and from which package versions."""
    manifest = {
        "format": FORMAT_VERSION,
        "complete": False,
        "args": args,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "packages": {SOURCES[s].package: _package_version(SOURCES[s].package) for s in SOURCES},
        "voices": [asdict(v) for v in voices],
        "skipped_folders": SKIPPED_FOLDERS,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_if_changed(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _package_version(package: str) -> str | None:
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
        )
    except OSError:  # not a Debian system: the roots were given
        return None
    return result.stdout.strip() or None


# ---- one speaker (in a worker) ----


@dataclass
class _Piece:
    """A stretch of one source file, at 16 kHz, with where it came from."""

    audio: np.ndarray
    file: str
    rate: int
    start: float  # seconds in the source file
    end: float


def _build_speaker(job: tuple[RecordedVoice, pathlib.Path, int, int | None, pathlib.Path]) -> str:
    """Read, cut, join and write one speaker's utterances; its sources.tsv last."""
    voice, root, seed, max_utterances, out = job
    rng = np.random.default_rng([seed, int(voice.id)])
    files = _voice_files(voice, root)
    order = [files[i] for i in rng.permutation(len(files))]
    chapter = voice.chapter_dir(out)
    rows = []
    for index, (audio, parts) in enumerate(_utterances(_pieces(order, voice), rng)):
        if max_utterances is not None and index >= max_utterances:
            break
        uid = f"{voice.id}-{voice.chapter}-{index:04d}"
        save_audio(chapter / f"{uid}.flac", audio)
        rows += [f"{uid}\t{p.file}\t{p.rate}\t{p.start:.3f}\t{p.end:.3f}" for p in parts]
    if not rows:
        raise CorpusError(f"{voice.name}: no utterance of {MIN_SECONDS:g} s from {len(files)} files")
    write_text(voice.sources_path(out), "utterance\tfile\tsample_rate\tstart\tend\n" + "\n".join(rows) + "\n")
    return voice.id


def _voice_files(voice: RecordedVoice, root: pathlib.Path) -> list[tuple[str, bytes]]:
    """The voice's files (``folder/name``, sorted) and their bytes, without byte-identical
    copies. A file that ``include`` names outright and the package lacks means another package
    version than the table was made from: refused."""
    archive = SOURCES[voice.source].archive
    if archive:
        with zipfile.ZipFile(root / archive) as zf:
            members = {n.removeprefix("3dovoice/"): n for n in zf.namelist()}
            listed = [f for f in sorted(members) if f.split("/")[0] in voice.folders]
            read = {f: zf.read(members[f]) for f in listed if _wanted(voice, f)}
    else:
        listed = sorted(f"{d}/{p.name}" for d in voice.folders for p in (root / d).iterdir() if p.is_file())
        read = {f: (root / f).read_bytes() for f in listed if _wanted(voice, f)}
    names = {f.split("/")[-1] for f in listed}
    absent = [p for p in voice.include if not any(c in p for c in "*?[") and p not in names]
    if absent:
        raise CorpusError(
            f"{voice.name}: {len(absent)} listed file(s) missing from {SOURCES[voice.source].package} "
            f"({absent[0]}, ...): not the package version the voice table was made from"
        )
    seen, unique = set(), []
    for file, data in sorted(read.items()):
        digest = hashlib.sha1(data).digest()
        if digest not in seen:
            seen.add(digest)
            unique.append((file, data))
    return unique


def _wanted(voice: RecordedVoice, file: str) -> bool:
    name = file.split("/")[-1]
    return (
        name.lower().endswith(_AUDIO)
        and any(fnmatch.fnmatchcase(name, p) for p in voice.include)
        and not any(fnmatch.fnmatchcase(name, p) for p in voice.exclude)
    )


def _pieces(files: list[tuple[str, bytes]], voice: RecordedVoice) -> Iterator[_Piece]:
    """Each readable file as 16-kHz mono without its leading and trailing silence; an unreadable
    or silent one is skipped with a warning."""
    for file, data in files:
        label = f"{SOURCES[voice.source].package}:{file}"
        try:
            wav, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
            audio = check_waveform(to_mono_16k(wav, rate, label), label)
        except (AudioError, RuntimeError) as exc:  # soundfile's errors are RuntimeErrors
            log.warning("%s: skipped (%s)", label, exc)
            continue
        start, end = _speech_span(audio)
        if end > start:
            yield _Piece(audio[start:end], file, rate, start / SAMPLE_RATE, end / SAMPLE_RATE)


def _speech_span(audio: np.ndarray) -> tuple[int, int]:
    """Samples [start, end) from the first to the last frame above the floor, padded by 80 ms."""
    hop = SAMPLE_RATE // 100
    db = frame_db(audio, hop)
    if len(db) == 0 or db.max() < -80:
        return 0, 0
    low, high = db.max() + np.array(_FLOOR_RANGE_DB)
    active = np.flatnonzero(db > np.clip(np.percentile(db, 10) + _FLOOR_ABOVE_NOISE_DB, low, high))
    pad = round(_PAD * SAMPLE_RATE)
    return max(0, active[0] * hop - pad), min(len(audio), (active[-1] + 1) * hop + pad)


def _cut(piece: _Piece) -> list[_Piece]:
    """A piece longer than MAX_SECONDS as n nearly equal parts, each cut at the quietest 10-ms
    frame within half a second of the equal split (uqm's lines run to a minute, without pauses)."""
    n = math.ceil(len(piece.audio) / (MAX_SECONDS * SAMPLE_RATE))
    if n <= 1:
        return [piece]
    hop, window = SAMPLE_RATE // 100, round(_CUT_WINDOW * SAMPLE_RATE)
    bounds = [0]
    for k in range(1, n):
        centre = round(k * len(piece.audio) / n)
        db = frame_db(piece.audio[centre - window : centre + window], hop)
        bounds.append(centre - window + int(np.argmin(db)) * hop + hop // 2)
    bounds.append(len(piece.audio))
    return [
        _Piece(
            piece.audio[a:b],
            piece.file,
            piece.rate,
            piece.start + a / SAMPLE_RATE,
            piece.start + b / SAMPLE_RATE,
        )
        for a, b in zip(bounds, bounds[1:])
    ]


def _utterances(
    pieces: Iterator[_Piece], rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, list[_Piece]]]:
    """Pieces of MIN_SECONDS or more alone; shorter ones joined in order, with short pauses,
    until they reach it (a last remainder below it is dropped). Each utterance peaks at -3 dBFS
    +-1 dB. Streamed, so that the first N utterances do not depend on how many follow."""
    pending: list[_Piece] = []
    pauses: list[int] = []
    for piece in pieces:
        for part in _cut(piece):
            if len(part.audio) >= MIN_SECONDS * SAMPLE_RATE:
                yield _level([part.audio], rng), [part]
                continue
            if pending:
                pauses.append(round(rng.uniform(*PAUSE_SECONDS) * SAMPLE_RATE))
            pending.append(part)
            if sum(len(p.audio) for p in pending) + sum(pauses) >= MIN_SECONDS * SAMPLE_RATE:
                chunks = [pending[0].audio]
                for gap, p in zip(pauses, pending[1:]):
                    chunks += [np.zeros(gap, np.float32), p.audio]
                yield _level(chunks, rng), pending
                pending, pauses = [], []


def _level(chunks: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Each piece at the same peak, then the whole at -3 dBFS +-1 dB: readers' words were
    recorded at levels far apart, and synth's utterances peak there too."""
    audio = np.concatenate([c / max(float(np.abs(c).max()), 1e-9) if c.any() else c for c in chunks])
    return (audio * 10 ** ((-3.0 + rng.uniform(-1.0, 1.0)) / 20)).astype(np.float32)


# ---- speaker tables ----


def _read_sources(path: pathlib.Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()[1:] if line.strip()]


def _finish(out: pathlib.Path, manifest: dict, voices: list[RecordedVoice]) -> None:
    """speakers.tsv, SPEAKERS.TXT and the completed manifest, from the files written."""
    tsv = [
        "speaker\tsubset\tsource\tfolder\tvoice\tgroup\tlanguage\tgender\toriginal_rate\tlicence"
        "\tutterances\tminutes"
    ]
    txt = [
        "; Recorded speakers of mirnet.corpus.recorded: real people from four Debian packages.",
        "; Columns as in LibriSpeech SPEAKERS.TXT; SUBSET is seen (training) or unseen (held out).",
        ";ID    |SEX| SUBSET | MINUTES | NAME",
    ]
    counts = {}
    for voice in voices:
        rows = _read_sources(voice.sources_path(out))
        files = sorted(voice.chapter_dir(out).glob("*.flac"))
        minutes = sum(sf.info(f).duration for f in files) / 60
        rates = ",".join(str(r) for r in sorted({int(row[2]) for row in rows}))
        source = SOURCES[voice.source]
        tsv.append(
            f"{voice.id}\t{voice.subset}\t{source.package}\t{','.join(voice.folders)}\t{voice.name}"
            f"\t{voice.group}\t{voice.language}\t{voice.gender}\t{rates}\t{source.licence}"
            f"\t{len(files)}\t{minutes:.3f}"
        )
        txt.append(f"{voice.id:<6}| {voice.gender} | {voice.subset:<6} | {minutes:7.3f} | {voice.name}")
        counts[voice.id] = {"utterances": len(files), "minutes": round(minutes, 3)}
    for entry in manifest["voices"]:
        entry.update(counts[entry["id"]])
    rows = [(v.subset, counts[v.id]["utterances"], counts[v.id]["minutes"]) for v in voices]
    complete(out, manifest, tsv, txt, rows)
