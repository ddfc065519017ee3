"""The synthesized corpus on disk, in LibriSpeech's layout: transcripts, the speaker tables
(``speakers.tsv``, ``SPEAKERS.TXT``) and the manifest that lets an interrupted run resume."""

from __future__ import annotations

import json
import logging
import pathlib

import soundfile as sf

from mirnet.atomic import write_text

from .speaker_plan import Speaker
from .voices import DEFAULT_ENGINES

log = logging.getLogger(__name__)

MANIFEST = "corpus.json"


def read_manifest(out: pathlib.Path) -> dict | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    manifest["args"].setdefault("engines", list(DEFAULT_ENGINES))  # written before engines could be chosen
    return manifest


def read_trans(path: pathlib.Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if line.strip())
    return {uid: text for uid, text in pairs}


def write_if_changed(path: pathlib.Path, text: str) -> None:
    """Lazy: an unchanged file keeps its mtime."""
    if not (path.is_file() and path.read_text() == text):
        write_text(path, text)


def finish(out: pathlib.Path, manifest: dict, plan: list[Speaker]) -> None:
    """Speaker tables and the completed manifest, with durations read from the written files."""
    rows = []
    for speaker in plan:
        files = sorted(speaker.chapter_dir(out).glob("*.flac"))
        minutes = sum(sf.info(f).duration for f in files) / 60
        rows.append((speaker, len(files), minutes))
    tsv = ["speaker\tsubset\tengine\tvoice\tlanguage\tgender\tutterances\tminutes"]
    txt = [
        "; Synthetic speakers of mirnet.corpus.synth: one synthesizer voice each.",
        "; Columns as in LibriSpeech SPEAKERS.TXT; SUBSET is seen (training) or unseen (held out).",
        ";ID    |SEX| SUBSET | MINUTES | NAME",
    ]
    for speaker, count, minutes in rows:
        v = speaker.voice
        tsv.append(
            f"{speaker.id}\t{speaker.subset}\t{v.engine}\t{v.name}\t{v.language}\t{v.gender}"
            f"\t{count}\t{minutes:.3f}"
        )
        txt.append(
            f"{speaker.id:<6}| {v.gender} | {speaker.subset:<6} | {minutes:7.3f} | {v.engine} {v.name}"
        )
    for entry, (speaker, count, minutes) in zip(manifest["speakers"], rows):
        entry.update(speaker=speaker.id, utterances=count, minutes=round(minutes, 3))
    complete(out, manifest, tsv, txt, [(s.subset, count, minutes) for s, count, minutes in rows])


def complete(
    out: pathlib.Path, manifest: dict, tsv: list[str], txt: list[str], rows: list[tuple[str, int, float]]
) -> None:
    """Write the speaker tables, then the manifest marked complete with the counts of ``rows``
    ((subset, utterances, minutes) per speaker): the manifest last, so a complete one means all."""
    write_if_changed(out / "speakers.tsv", "\n".join(tsv) + "\n")
    write_if_changed(out / "SPEAKERS.TXT", "\n".join(txt) + "\n")
    manifest["counts"] = {
        "speakers": len(rows),
        "seen": sum(subset == "seen" for subset, _, _ in rows),
        "unseen": sum(subset == "unseen" for subset, _, _ in rows),
        "utterances": sum(count for _, count, _ in rows),
        "minutes": round(sum(minutes for _, _, minutes in rows), 3),
    }
    manifest["complete"] = True
    write_if_changed(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    log.info(
        "%s: %d speakers, %d utterances, %.1f minutes",
        out,
        len(rows),
        manifest["counts"]["utterances"],
        manifest["counts"]["minutes"],
    )
