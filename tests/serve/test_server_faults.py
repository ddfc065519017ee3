"""The demo server against hostile and unlucky clients, on a real uvicorn server: slow uploads and
abandoned analyses hold no slot, a header that would cost gigabytes to decode is refused before
decoding, foreign Host and Origin headers are refused, errors name the upload and never the
server's paths, and a long clip's memory goes back to the system."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time

import httpx2 as httpx
import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient

from mirnet.serve.server import Limits, Service, create_app

from ..conftest import REPO
from .conftest import serving

LOCAL = "http://127.0.0.1:8000"


def _stalled_upload(url: str, declared: int = 100_000, sent: bytes = b"RIFF") -> socket.socket:
    """A client that announces ``declared`` bytes, sends ``sent`` and then nothing."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = f"POST /api/analyze HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {declared}\r\n\r\n"
    sock.sendall(head.encode() + sent)
    return sock


def _status(sock: socket.socket) -> tuple[int, str]:
    reply = b""
    while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def test_slow_uploads_hold_no_slot_and_time_out_with_408(embedder, clips, caplog):
    out, _ = clips
    limits = Limits(workers=1, queue=0, read_timeout=1.0)
    app = create_app(Service(embedder, None, None, {}, limits))
    with serving(app) as url, caplog.at_level(logging.ERROR):
        slow = [_stalled_upload(url) for _ in range(6)]
        # six senders stalled mid-body; the one analysis slot is still free for a whole clip
        good = httpx.post(f"{url}/api/analyze", content=(out / "mix.wav").read_bytes(), timeout=60)
        assert good.status_code == 200, good.text
        for sock in slow:
            status, error = _status(sock)
            assert status == 408 and "sent nothing for 1 s after 4 bytes" in error
            sock.close()
        # a client that leaves mid-upload: no traceback in the server's log
        _stalled_upload(url, sent=b"RIFF....").close()
        assert httpx.post(f"{url}/api/analyze", content=(out / "mix.wav").read_bytes(), timeout=60).is_success
    assert not [r for r in caplog.records if "Exception in ASGI application" in r.getMessage()]


def test_an_abandoned_analysis_is_stopped_and_frees_its_slot(embedder, clips):
    out, _ = clips
    service = Service(embedder, None, None, {}, Limits(workers=1, queue=0))
    entered, seen = threading.Event(), {}
    real = service.analyze

    def watched(path, name, workdir, cancelled=None):
        entered.set()
        seen["stopped"] = cancelled is not None and cancelled.wait(30)
        return real(path, name, workdir, cancelled)

    service.analyze = watched
    with serving(create_app(service)) as url:
        body = (out / "mix.wav").read_bytes()
        sock = _stalled_upload(url, declared=len(body), sent=body)
        assert entered.wait(30)
        sock.close()  # the client goes while its clip is being analysed
        service.analyze = real
        deadline = time.time() + 30
        while "stopped" not in seen and time.time() < deadline:
            time.sleep(0.05)
        assert seen["stopped"]
        r = httpx.post(f"{url}/api/analyze", content=body, timeout=60)
        assert r.status_code == 200, r.text


def test_a_header_that_would_take_gigabytes_to_decode_is_refused_with_413(embedder, tmp_path):
    """8 channels at 384 kHz: 3 million samples a second to decode for 16,000 kept; the file of
    the issue was 360 s of it in 1.2 MB, and took a server from 1.2 to 6 GB."""
    bomb = tmp_path / "b.flac"
    with sf.SoundFile(bomb, "w", 384000, 8, "PCM_16", format="FLAC") as f:
        f.write(np.full((384000, 8), 0.25, np.float32))
    client = TestClient(create_app(Service(embedder)), base_url=LOCAL)
    r = client.post("/api/analyze", content=bomb.read_bytes(), headers={"X-Filename": "b.flac"})
    assert (
        r.status_code == 413 and r.json()["error"].startswith("b.flac: ") and "channels" in r.json()["error"]
    )


def test_errors_name_the_upload_and_the_page_no_server_path(embedder, clips):
    out, _ = clips
    client = TestClient(create_app(Service(embedder)), base_url=LOCAL)
    r = client.post(
        "/api/analyze", content=(out / "silent.wav").read_bytes(), headers={"X-Filename": "quiet.wav"}
    )
    assert r.status_code == 422 and r.json()["error"] == "quiet.wav: silent (RMS below -80 dBFS)"
    info = client.get("/api/info").json()
    assert info["model"] == "mirnet" and str(REPO) not in json.dumps(info)


def test_a_foreign_host_or_origin_is_refused_unless_allowed(embedder, clips):
    out, _ = clips
    mix = (out / "mix.wav").read_bytes()
    client = TestClient(create_app(Service(embedder)), base_url=LOCAL)
    assert client.get("/api/info").status_code == 200
    assert client.get("/api/info", headers={"Host": "[::1]:8000"}).status_code == 200
    rebound = client.get("/api/info", headers={"Host": "evil.example:8000"})
    assert rebound.status_code == 400 and "--allowed-host" in rebound.json()["error"]
    cross = client.post(
        "/api/analyze", content=mix, headers={"Origin": "http://evil.example", "Content-Type": "text/plain"}
    )
    assert cross.status_code == 403 and "cross-origin" in cross.json()["error"]
    other_port = client.post("/api/analyze", content=mix, headers={"Origin": "http://127.0.0.1:3000"})
    assert other_port.status_code == 403
    assert client.post("/api/analyze", content=mix, headers={"Origin": LOCAL}).status_code == 200
    proxied = TestClient(
        create_app(Service(embedder), allowed_hosts=None), base_url="http://mirnet.example.org"
    )
    assert proxied.get("/api/info").status_code == 200


def test_the_cli_refuses_a_negative_queue_in_one_line():
    r = subprocess.run(
        [sys.executable, "-m", "mirnet.cli", "serve", "models/mirnet", "--queue", "-5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--queue" in r.stderr.splitlines()[-1]


MEMORY = """
import sys
from pathlib import Path
import numpy as np
from fastapi.testclient import TestClient
import mirnet
from mirnet.allocator import keep_freed_memory
from mirnet.audio import load_audio, save_audio
from mirnet.serve.server import Limits, Service, create_app

def rss(key):
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status[key].split()[0]) // 1024

keep_freed_memory()  # as the CLI does for every verb
short, clip = Path(sys.argv[2]), Path(sys.argv[1])
save_audio(clip, np.tile(load_audio(short), 10))
client = TestClient(create_app(Service(mirnet.load("models/mirnet"), limits=Limits(long_seconds=1e9))),
                    base_url="http://127.0.0.1")
assert client.post("/api/analyze", content=short.read_bytes()).status_code == 200
before = rss("VmRSS")
assert client.post("/api/analyze", content=clip.read_bytes()).status_code == 200
print(before, rss("VmHWM"), rss("VmRSS"))
"""


def test_a_long_clips_memory_goes_back_to_the_system_after_it(clips, tmp_path):
    out, _ = clips
    r = subprocess.run(
        [sys.executable, "-c", MEMORY, str(tmp_path / "long.wav"), str(out / "long.wav")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    before, peak, after = map(int, r.stdout.split())
    print(f"server RSS: {before} MB before a 120-s clip, {peak} MB at its peak, {after} MB after it")
    assert peak - before > 200  # the clip is long enough to matter
    assert after - before < 0.25 * (peak - before)


def test_the_cli_says_where_it_listens_and_logs_each_request(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mirnet.cli", "serve", "mirnet", "--port", str(port)],
        cwd=tmp_path,  # the model by its name, from a folder outside the checkout
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline and not any(f"http://127.0.0.1:{port}" in x for x in lines):
            lines.append(server.stdout.readline())
        assert any(f"running on http://127.0.0.1:{port}" in x for x in lines), lines
        assert httpx.get(f"http://127.0.0.1:{port}/api/info").status_code == 200
    finally:
        server.terminate()
        rest = server.communicate(timeout=30)[0]
    assert '"GET /api/info HTTP/1.1" 200' in rest, rest
