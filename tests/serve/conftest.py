"""The demo server's fixtures: the shipped MIRNet, a mixture, a long clip and a silent one of the
test voices, and a gallery of both voices of the mixture."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import uvicorn

import mirnet
from mirnet.audio import load_audio, save_audio

from ..conftest import REPO

MIRNET = REPO / "models" / "mirnet"


@pytest.fixture(scope="module")
def embedder():
    return mirnet.load(MIRNET)


@pytest.fixture(scope="module")
def clips(corpus, tmp_path_factory, embedder):
    """A 3-s mixture of two test voices, a 12-s clip of turns, a silent clip; a gallery of both voices."""
    out = tmp_path_factory.mktemp("clips")
    speakers = sorted(p.name for p in (corpus / "seen").iterdir() if p.is_dir())[:2]
    files = {s: sorted((corpus / "seen").glob(f"{s}/*/*.flac")) for s in speakers}
    waves = {s: [load_audio(f) for f in files[s][:4]] for s in speakers}
    n = min(len(waves[s][0]) for s in speakers)
    save_audio(out / "mix.wav", waves[speakers[0]][0][:n] + waves[speakers[1]][0][:n])
    save_audio(out / "long.wav", np.concatenate([waves[s][k] for k in (1, 2) for s in speakers]))
    save_audio(out / "silent.wav", np.zeros(32000, np.float32))
    gallery = out / "gallery"
    for s in speakers:
        mirnet.enroll(embedder, gallery, f"voice-{s}", files[s][2:5])
    return out, speakers


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` served by uvicorn on a free localhost port, in a thread: its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
