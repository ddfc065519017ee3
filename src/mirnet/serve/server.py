"""`mirnet serve`: a web page over the shipped models. A person uploads or records a clip, or picks
an example, and sees the clip's N identities (with their gallery names when a gallery is loaded),
the who-spoke-when timeline of a long clip, and the separated tracks when a separator is loaded.

FastAPI with one static page, not Gradio: the server must answer every bad upload with its own
4xx and a one-line message (too large, too long, empty, not audio, pool full), bound its worker
pool, and write nothing outside a per-request temporary folder. Those are a few lines each in
FastAPI, and it adds three small pinned packages; Gradio brings its own upload handling, queue and
file cache, and a large front end. The page itself composes ``apps/`` and the API: no logic here
beyond HTTP.

The clip travels as the raw request body (``curl --data-binary @clip.wav HOST/api/analyze``), read
in chunks and refused as soon as it passes the size limit.
"""

from __future__ import annotations

import asyncio
import base64
import io
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ..api import Embedder, Separator
from ..apps.diarization import diarize
from ..apps.verification import Gallery
from ..audio import SAMPLE_RATE, AudioError, audio_info, load_audio
from ..eval.plots import plot_timeline

PAGE = Path(__file__).with_name("page.html")


@dataclass
class Limits:
    max_bytes: int = 50 * 2**20
    max_seconds: float = 1800.0
    workers: int = 2  # analyses at once
    queue: int = 4  # further requests that may wait for a worker; beyond them: 429
    long_seconds: float = 10.0  # clips longer than this are also diarized


class HTTPProblem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Service:
    """The models a page shows, loaded once."""

    embedder: Embedder
    separator: Separator | None = None
    gallery: Gallery | None = None
    examples: dict[str, Path] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    def analyze(self, path: Path, name: str, workdir: Path) -> dict:
        """The page's result for the clip at ``path``; any file it draws goes in ``workdir``."""
        try:
            frames, rate = audio_info(path)
        except AudioError:
            raise HTTPProblem(415, f"{name}: not an audio file soundfile can read (WAV, FLAC, OGG)") from None
        seconds = frames / max(rate, 1)
        if seconds > self.limits.max_seconds:
            raise HTTPProblem(
                413, f"{name}: {seconds:.0f} s of audio, the limit is {self.limits.max_seconds:.0f} s"
            )
        try:
            wav = load_audio(path, min_seconds=max(0.5, self.embedder.shortest_seconds))
        except AudioError as exc:
            raise HTTPProblem(422, str(exc)) from None
        emb = self.embedder.embed(wav)
        identities = [{"output": k + 1} for k in range(len(emb))]
        if self.gallery is not None:
            for item, match in zip(identities, self.gallery.identify(emb, None)):
                item.update(name=match.best, score=round(match.score, 4))
        result = {"name": name, "seconds": round(len(wav) / SAMPLE_RATE, 2), "identities": identities}
        if result["seconds"] > self.limits.long_seconds:
            d = diarize(self.embedder.embed_streams_batch, path)
            turns = [(t.speaker, t.start, t.end) for t in d.turns]
            picture = plot_timeline(turns, d.seconds, workdir / "timeline.png")
            result["diarization"] = {
                "speakers": d.speakers,
                "turns": [{"speaker": s, "start": a, "end": b} for s, a, b in turns],
                "timeline_png": base64.b64encode(picture.read_bytes()).decode(),
            }
        if self.separator is not None and self.separator.mode != "enrolled":
            tracks = self.separator.separate(wav).numpy()
            result["tracks"] = [_wav_base64(t) for t in tracks]
        return result


def _wav_base64(wav: np.ndarray) -> str:
    buf = io.BytesIO()
    sf.write(buf, wav.astype(np.float32), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode()


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(service: Service) -> FastAPI:
    limits = service.limits
    app = FastAPI(title="mirnet", docs_url=None, redoc_url=None)
    pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="mirnet-analyze")
    slots = threading.BoundedSemaphore(limits.workers + limits.queue)
    app.state.service = service

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.read_text()

    @app.get("/api/info")
    def info() -> dict:
        return {
            "model": service.embedder.source,
            "speakers": service.embedder.n_speakers,
            "gallery": None if service.gallery is None else service.gallery.names,
            "separator": None if service.separator is None else service.separator.source,
            "examples": sorted(service.examples),
            "max_mb": limits.max_bytes / 2**20,
            "max_seconds": limits.max_seconds,
        }

    @app.post("/api/analyze")
    async def analyze(request: Request, example: str | None = None):
        if not slots.acquire(blocking=False):
            return _problem(
                429, f"the server is busy ({limits.workers + limits.queue} clips in progress); try again"
            )
        try:
            with tempfile.TemporaryDirectory(prefix="mirnet-serve-") as tmp:
                if example is not None:
                    if example not in service.examples:
                        return _problem(404, f"no example named {example!r}")
                    path, name = service.examples[example], example
                else:
                    name = request.headers.get("x-filename", "upload")
                    path = Path(tmp) / "upload"
                    size = await _receive(request, path, limits.max_bytes)
                    if size == 0:
                        return _problem(400, f"{name}: the upload is empty")
                    if size > limits.max_bytes:
                        return _problem(
                            413, f"{name}: larger than the limit of {limits.max_bytes / 2**20:.0f} MB"
                        )
                loop = asyncio.get_running_loop()
                try:
                    return await loop.run_in_executor(pool, service.analyze, path, name, Path(tmp))
                except HTTPProblem as exc:
                    return _problem(exc.status, exc.message)
        finally:
            slots.release()

    return app


async def _receive(request: Request, path: Path, limit: int) -> int:
    """Write the body to ``path``, stopping past ``limit`` bytes; returns the bytes seen."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return int(declared)
    size = 0
    with path.open("wb") as f:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return size
            f.write(chunk)
    return size
