"""`mirnet serve`: a web page over the shipped models. A person uploads or records a clip, or picks
an example, and sees the clip's N identities (with their gallery names when a gallery is loaded),
the who-spoke-when timeline of a long clip, and the separated tracks when a separator is loaded.

FastAPI with one static page, not Gradio: the server must answer every bad upload with its own
4xx and a one-line message (too large, too long, empty, not audio, pool full, too slow), bound its
worker pool, and write nothing outside a per-request temporary folder. Those are a few lines each
in FastAPI, and it adds three small pinned packages; Gradio brings its own upload handling, queue
and file cache, and a large front end. The page itself composes ``apps/`` and the API: no logic
here beyond HTTP.

The clip travels as the raw request body (``curl --data-binary @clip.wav HOST/api/analyze``), read
in chunks and refused as soon as it passes the size limit. A body is received before it may take
an analysis slot, under a read timeout, so slow senders hold no slot; an analysis whose client has
gone stops at its next stage, so abandoned requests hold none either.
"""

from __future__ import annotations

import asyncio
import base64
import io
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import soundfile as sf
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.requests import ClientDisconnect

from ..allocator import release_freed_memory
from ..api import Embedder, Separator
from ..apps.diarization import DiarizationSettings, diarize
from ..apps.verification import Gallery, Threshold, name_speakers
from ..audio import SAMPLE_RATE, AudioError, DecodeCostError, load_audio, read_header

PAGE = Path(__file__).with_name("page.html")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


ENVELOPE_POINTS = 800  # the waveform the page draws, as peaks


@dataclass
class Limits:
    max_bytes: int = 50 * 2**20
    # what an analysis costs is the clip's duration at 16 kHz, whatever its rate: the longest,
    # diarized, took 76 s of one core (benchmarks/serve_load.py, docs/applications.md)
    max_seconds: float = 600.0
    workers: int = 2  # analyses at once
    queue: int = 4  # further requests that may wait for a worker; beyond them: 429
    long_seconds: float = 10.0  # clips longer than this are also diarized
    uploads: int = 32  # bodies received at once (they hold no analysis slot); beyond them: 429
    read_timeout: float = 10.0  # seconds an upload may send nothing before it gets 408
    upload_seconds: float = 120.0  # the longest a whole upload may take: 408 past it


class HTTPProblem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Cancelled(Exception):
    """The client has gone: the analysis stops at its next stage."""


def model_name(source: str | Path) -> str:
    """What a visitor is shown of a model: its folder's name, never the server's path."""
    path = Path(source)
    return path.parent.name if path.name == "model.pt" else path.stem if path.suffix else path.name


@dataclass
class Service:
    """The models a page shows, loaded once."""

    embedder: Embedder
    separator: Separator | None = None
    gallery: Gallery | None = None
    examples: dict[str, Path] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    threshold: Threshold | None = None  # a gallery name below it is "unknown" (identify's)
    # how long clips are diarized: the model's shipped settings and its cohort-centred identities
    # (apps.diarization.diarization_settings, load_diarizer); the defaults and raw identities if None
    diarization: DiarizationSettings | None = None
    diarizer: Callable | None = None

    def analyze(self, path: Path, name: str, workdir: Path, cancelled: threading.Event | None = None) -> dict:
        """The page's result for the clip at ``path``; any file it draws goes in ``workdir``. Every
        stage first checks ``cancelled``; errors name the clip by ``name``, never by ``path``."""

        def check() -> None:
            if cancelled is not None and cancelled.is_set():
                raise Cancelled

        check()
        try:
            header = read_header(path)
        except DecodeCostError as exc:
            raise HTTPProblem(413, f"{name}: {exc.reason}") from None
        except AudioError:
            raise HTTPProblem(415, f"{name}: not an audio file soundfile can read (WAV, FLAC, OGG)") from None
        seconds = header.frames / header.sample_rate
        if seconds > self.limits.max_seconds:
            raise HTTPProblem(
                413, f"{name}: {seconds:.0f} s of audio, the limit is {self.limits.max_seconds:.0f} s"
            )
        try:
            wav = load_audio(path, min_seconds=max(0.5, self.embedder.shortest_seconds))
        except AudioError as exc:
            raise HTTPProblem(422, f"{name}: {exc.reason}") from None
        check()
        emb = self.embedder.embed(wav)
        identities = [{"output": k + 1} for k in range(len(emb))]
        if self.gallery is not None:
            for item, match in zip(identities, self.gallery.identify(emb, self.threshold)):
                item.update(name=match.name, closest=match.best, score=round(match.score, 4))
        result = {
            "name": name,
            "seconds": round(len(wav) / SAMPLE_RATE, 2),
            "waveform": envelope(wav),
            "identities": identities,
        }
        if result["seconds"] > self.limits.long_seconds:
            embed = self.diarizer or self.embedder.embed_streams_batch

            def embed_windows(*args, **kwargs):
                check()
                return embed(*args, **kwargs)

            d = diarize(embed_windows, path, self.diarization)
            check()
            named = (
                {}
                if self.gallery is None
                else name_speakers(self.embedder, path, d, self.gallery, self.threshold)
            )
            # one entry per diarized speaker, the name the table, the timeline and the legend all show
            result["diarization"] = {
                "speakers": [
                    {
                        "label": label,
                        "talks_seconds": round(
                            sum(t.end - t.start for t in d.turns if t.speaker == label), 2
                        ),
                        **(
                            {"name": m.name, "closest": m.best, "score": round(m.score, 4)}
                            if (m := named.get(label))
                            else {}
                        ),
                    }
                    for label in sorted({t.speaker for t in d.turns})
                ],
                "turns": [{"speaker": t.speaker, "start": t.start, "end": t.end} for t in d.turns],
            }
        if self.separator is not None and self.separator.mode != "enrolled":
            check()
            tracks = self.separator.separate(wav).numpy()
            result["tracks"] = [_wav_base64(t) for t in tracks]
        return result


def envelope(wav: np.ndarray, points: int = ENVELOPE_POINTS) -> list[float]:
    """The clip's peak level in ``points`` equal stretches (what the page draws as its waveform)."""
    n = len(wav) // points * points
    if n == 0:
        return [round(float(np.abs(wav).max(initial=0.0)), 3)]
    return np.abs(wav[:n]).reshape(points, -1).max(1).round(3).tolist()


def _wav_base64(wav: np.ndarray) -> str:
    buf = io.BytesIO()
    sf.write(buf, wav.astype(np.float32), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode()


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _hostname(host: str) -> str:
    """A Host header's name without its port: '[::1]:8000' -> '::1', 'Example.org:80' -> 'example.org'."""
    return (urlsplit(f"//{host.strip()}").hostname or "") if host else ""


class SameOrigin:
    """Refuses a request whose Host is not one of ``hosts`` (DNS rebinding: a page of evil.example
    whose name now resolves to 127.0.0.1 reads /api/info), and one whose Origin is not the Host it
    was sent to (a cross-site form POST). ``hosts=None`` lets every request through: for a server
    behind a proxy that checks them itself."""

    def __init__(self, app, hosts: tuple[str, ...] | None):
        self.app, self.hosts = app, None if hosts is None else {h.lower().strip("[]") for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.hosts is not None:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host, origin = headers.get("host", ""), headers.get("origin")
            if _hostname(host) not in self.hosts:
                message = f"Host {host!r} is not served here (mirnet serve --allowed-host NAME allows it)"
                return await _problem(400, message)(scope, receive, send)
            if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
                return await _problem(
                    403, f"a request from {origin} to {host}: cross-origin requests are refused"
                )(scope, receive, send)
        await self.app(scope, receive, send)


def create_app(service: Service, allowed_hosts: tuple[str, ...] | None = LOCAL_HOSTS) -> FastAPI:
    limits = service.limits
    app = FastAPI(title="mirnet", docs_url=None, redoc_url=None)
    pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="mirnet-analyze")
    slots = threading.BoundedSemaphore(limits.workers + limits.queue)
    uploads = asyncio.BoundedSemaphore(limits.uploads)
    app.state.service = service
    app.add_middleware(SameOrigin, hosts=allowed_hosts)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.read_text()

    @app.get("/api/info")
    def info() -> dict:
        return {
            "model": model_name(service.embedder.source),
            "speakers": service.embedder.n_speakers,
            "gallery": None if service.gallery is None else service.gallery.names,
            "separator": None if service.separator is None else model_name(service.separator.source),
            "examples": sorted(service.examples),
            "max_mb": limits.max_bytes / 2**20,
            "max_seconds": limits.max_seconds,
            "long_seconds": limits.long_seconds,
            # what a gallery score is measured on, and where a name stops: the page says it
            "scoring": None
            if service.gallery is None
            else {
                "scale": "cosine"
                if service.threshold is None or service.threshold.norm is None
                else f"cosine, {service.threshold.norm.method} against the model's cohort",
                "threshold": None if service.threshold is None else round(service.threshold.value, 4),
            },
        }

    @app.post("/api/analyze")
    async def analyze(request: Request, example: str | None = None):
        with tempfile.TemporaryDirectory(prefix="mirnet-serve-") as tmp:
            if example is not None:
                if example not in service.examples:
                    return _problem(404, f"no example named {example!r}")
                path, name = service.examples[example], example
            else:
                name = request.headers.get("x-filename", "upload")
                path = Path(tmp) / "upload"
                if uploads.locked():
                    return _problem(
                        429, f"the server is busy ({limits.uploads} uploads in progress); try again"
                    )
                async with uploads:
                    try:
                        size = await _receive(request, path, limits)
                    except TimeoutError as exc:
                        return _problem(408, f"{name}: {exc}")
                    except ClientDisconnect:  # no one reads this answer; the log stays quiet
                        return _problem(400, f"{name}: the client went away during the upload")
                if size == 0:
                    return _problem(400, f"{name}: the upload is empty")
                if size > limits.max_bytes:
                    return _problem(
                        413, f"{name}: larger than the limit of {limits.max_bytes / 2**20:.0f} MB"
                    )
            if not slots.acquire(blocking=False):
                return _problem(
                    429, f"the server is busy ({limits.workers + limits.queue} clips in progress); try again"
                )
            cancelled = threading.Event()
            watcher = asyncio.create_task(_watch_disconnect(request, cancelled))
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    pool, _analyze_and_release, service, path, name, Path(tmp), cancelled
                )
            except HTTPProblem as exc:
                return _problem(exc.status, exc.message)
            except Cancelled:
                return _problem(400, f"{name}: the client went away; the analysis was stopped")
            finally:
                cancelled.set()  # a no-op after an analysis; stops one whose await was cancelled
                watcher.cancel()
                slots.release()

    return app


def _analyze_and_release(service: Service, *args) -> dict:
    """One analysis, then its freed memory back to the system: the allocator keeps a long clip's
    peak otherwise (``allocator``), and a server lives on."""
    try:
        return service.analyze(*args)
    finally:
        release_freed_memory()


async def _watch_disconnect(request: Request, cancelled: threading.Event, every: float = 0.2) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(every)
    cancelled.set()


async def _receive(request: Request, path: Path, limits: Limits) -> int:
    """Write the body to ``path``, stopping past ``limits.max_bytes``; returns the bytes seen.
    Raises TimeoutError when the client sends nothing for ``read_timeout`` seconds or takes over
    ``upload_seconds`` in all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        return int(declared)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.upload_seconds
    chunks = aiter(request.stream())
    size = 0
    with path.open("wb") as f:
        while True:
            wait = min(limits.read_timeout, deadline - loop.time())
            try:
                chunk = await asyncio.wait_for(anext(chunks), max(wait, 0.0))
            except StopAsyncIteration:
                return size
            except TimeoutError:
                why = "sent nothing for" if wait >= limits.read_timeout else "took longer than"
                seconds = limits.read_timeout if wait >= limits.read_timeout else limits.upload_seconds
                raise TimeoutError(f"the upload {why} {seconds:.0f} s after {size} bytes") from None
            size += len(chunk)
            if size > limits.max_bytes:
                return size
            f.write(chunk)
