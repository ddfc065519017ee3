"""``mirnet serve``: the demo page's server, from the models and gallery its options name."""

from __future__ import annotations

from pathlib import Path

from ..arguments import Count, Positive, Size
from ..errors import InputError
from .common import EMBEDDER_HELP, typed


def add_serve(sub) -> None:
    s = sub.add_parser("serve", help="a web page: upload or record a clip, see its speakers (and tracks)")
    s.add_argument("exp", help=EMBEDDER_HELP)
    s.add_argument("--separator", help="also separate each clip with this separator")
    s.add_argument("--gallery", help="name each identity from this gallery (mirnet enroll)")
    s.add_argument("--examples", nargs="+", metavar="WAV", help="clips a visitor can pick")
    s.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    s.add_argument("--port", type=int, default=8000, help="the port to listen on")
    s.add_argument("--max-mb", type=typed(Positive), default=50.0, help="largest upload")
    s.add_argument(
        "--max-seconds",
        type=typed(Positive),
        default=600.0,
        help="longest clip (its CPU cost: docs/applications.md)",
    )
    s.add_argument("--workers", type=typed(Size), default=2, help="clips analysed at once")
    s.add_argument("--queue", type=typed(Count), default=4, help="clips that may wait; beyond them: 429")
    s.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name the server answers besides localhost and --host (repeatable; '*': any, "
        "for a server behind a proxy that checks Host and Origin itself)",
    )
    s.set_defaults(func=_serve)


def _serve(a):
    import uvicorn

    import mirnet

    from ..apps.diarization import diarization_settings, load_diarizer
    from ..apps.verification import Gallery, resolve_threshold
    from ..serve.server import LOCAL_HOSTS, Limits, Service, create_app

    embedder = mirnet.load(a.exp)
    gallery = None if a.gallery is None else Gallery.open(a.gallery, embedder.fingerprint, embedder.embed_dim)
    threshold = None if gallery is None else resolve_threshold(None, None, embedder, condition="enrolled")
    settings, cohort = diarization_settings(a.exp, embedder.fingerprint)
    diarizer = None if cohort is None else load_diarizer(a.exp, cohort)
    examples = {}
    for f in a.examples or []:
        if not Path(f).is_file():
            raise InputError(f"{f}: no such example file")
        examples[Path(f).name] = Path(f)
    limits = Limits(
        max_bytes=round(a.max_mb * 2**20), max_seconds=a.max_seconds, workers=a.workers, queue=a.queue
    )
    separator = None if a.separator is None else mirnet.load_separator(a.separator)
    hosts = None if "*" in a.allowed_host else (*LOCAL_HOSTS, a.host, *a.allowed_host)
    service = Service(embedder, separator, gallery, examples, limits, threshold, settings, diarizer)
    app = create_app(service, hosts)
    # uvicorn's info level: the address once it listens, and a status line per request
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning" if a.quiet else "info")
