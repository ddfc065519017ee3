"""Load on the demo server: a real `mirnet serve` process on localhost gets REQUESTS concurrent
requests, good and bad mixed (mixtures, a picked example, text posing as audio, empty bodies,
uploads over the size limit), with slow senders (a clip dripped at 8 KB/s, one that stalls
mid-body) and abandoned requests (a long clip whose client leaves once it is sent) among them.
It must answer every good one with its result and every bad one with its 4xx, and still be up
afterwards. Prints each kind's statuses and p50/p95 latency, a good client's latency alone
against under that load (the same server, in the same run), and the server's RSS before, at
the peak of and after the worst upload it accepts (the longest clip, at the most channels and
the highest rate the header check lets through).

    mirnet corpus mix data/corpus/unseen mix.wav --seed 1
    python benchmarks/serve_load.py models/mirnet mix.wav --requests 50
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import numpy as np
import soundfile as sf

from mirnet.audio import MAX_CHANNEL_RATE
from mirnet.serve.server import Limits

MAX_MB = 8.0  # the server's upload limit here: an abandoned clip fits, an oversized upload stays cheap
DRIP = 8192  # bytes a second a slow client sends
ABANDONED_SECONDS = 300  # the clip an abandoned request leaves behind: minutes of CPU if it ran on


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> dict[str, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def _raw(port: int, body: bytes, declared: int | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=600)
    head = f"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {declared or len(body)}\r\n\r\n"
    sock.sendall(head.encode() + body)
    return sock


def _status(sock: socket.socket) -> int:
    reply = b""
    while b"\r\n" not in reply and (chunk := sock.recv(4096)):
        reply += chunk
    return int(reply.split()[1]) if reply else 0


def _worst_accepted(path: Path, max_seconds: float) -> Path:
    """The longest clip the server takes, at the most samples a second its header check lets
    through in FLAC's most channels (8 at 192 kHz), as a FLAC of a constant: about a megabyte."""
    channels = 8
    rate = MAX_CHANNEL_RATE // channels
    block = np.full((rate, channels), 0.25, np.float32)
    with sf.SoundFile(path, "w", rate, channels, "PCM_16", format="FLAC") as f:
        for _ in range(int(max_seconds) - 1):
            f.write(block)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exp")
    p.add_argument("mixture", help="a WAV mixture (mirnet corpus mix)")
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--workers", type=int, default=2, help="the server's analyses at once")
    a = p.parse_args()
    port = _free_port()
    cmd = [sys.executable, "-m", "mirnet.cli", "serve", a.exp, "--port", str(port), "--examples", a.mixture]
    cmd += ["--workers", str(a.workers), "--queue", str(a.requests), "--max-mb", str(MAX_MB)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    tmp = Path(tempfile.mkdtemp(prefix="serve-load-"))
    log = (tmp / "server.log").open("w+")  # a pipe nobody reads would stall the server once full
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(f"{base}/api/info", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit(f"the server did not start: {(tmp / 'server.log').read_text() or 'timeout'}")
                time.sleep(0.5)
        mixture = Path(a.mixture).read_bytes()
        wav, rate = sf.read(a.mixture, dtype="float32")
        buf = tmp / "abandoned.flac"
        sf.write(
            buf, np.tile(wav, -(-ABANDONED_SECONDS * rate // len(wav)))[: ABANDONED_SECONDS * rate], rate
        )
        abandoned = buf.read_bytes()
        if len(abandoned) > MAX_MB * 2**20:
            sys.exit(f"the abandoned clip is {len(abandoned)} bytes, over the {MAX_MB} MB limit: shorten it")

        def post(url: str, body) -> tuple[int, bool]:
            r = httpx.post(base + url, content=body, timeout=600)
            return r.status_code, "identities" in r.json() if r.status_code == 200 else "error" in r.json()

        def drip():
            for at in range(0, len(mixture), DRIP // 4):
                time.sleep(0.25)
                yield mixture[at : at + DRIP // 4]

        def stalled() -> tuple[int, bool]:
            with _raw(port, mixture[:1000], declared=len(mixture)) as sock:
                status = _status(sock)  # the server's read timeout answers it
            return status, status == 408

        def abandon() -> tuple[int, bool]:
            _raw(port, abandoned).close()  # sent whole, then gone before the answer
            return 0, True

        kinds = {  # kind -> (send, the status it must get)
            "mixture": (lambda: post("/api/analyze", mixture), 200),
            "example": (lambda: post(f"/api/analyze?example={Path(a.mixture).name}", b""), 200),
            "not audio": (lambda: post("/api/analyze", b"this is not audio" * 100), 415),
            "empty": (lambda: post("/api/analyze", b""), 400),
            "too large": (lambda: post("/api/analyze", os.urandom(round(1.5 * MAX_MB * 2**20))), 413),
            "slow (8 KB/s)": (lambda: post("/api/analyze", drip()), 200),
            "stalled": (stalled, 408),
            "abandoned": (abandon, 0),
        }

        def send(kind: str) -> tuple[str, int, float, bool]:
            call, want = kinds[kind]
            start = time.perf_counter()
            status, ok = call()
            return kind, status, time.perf_counter() - start, ok and status == want

        def run(order: list[str]) -> tuple[list, float]:
            start = time.perf_counter()
            with ThreadPoolExecutor(len(order)) as pool:
                results = list(pool.map(send, order))
            return results, time.perf_counter() - start

        alone, _ = run(["mixture"] * 10)
        order = [list(kinds)[i % len(kinds)] for i in range(a.requests)]
        results, wall = run(order)
        alive = httpx.get(f"{base}/api/info", timeout=10).status_code == 200
        rss_load = _rss_mb(server.pid)["VmHWM"]
        # the worst upload the server accepts, alone on it, after everything else has finished
        limit = Limits().max_seconds
        worst = _worst_accepted(tmp / "worst.flac", limit).read_bytes()
        before = _rss_mb(server.pid)["VmRSS"]
        start = time.perf_counter()
        r = httpx.post(
            f"{base}/api/analyze", content=worst, timeout=900, headers={"X-Filename": "worst.flac"}
        )
        worst_row = {
            "bytes": len(worst),
            "status": r.status_code,
            "wall_s": round(time.perf_counter() - start, 1),
            "rss_before_mb": round(before),
            "rss_peak_mb": round(_rss_mb(server.pid)["VmHWM"]),
            "rss_after_mb": round(_rss_mb(server.pid)["VmRSS"]),
        }
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()

    def row(rs: list) -> dict:
        lat = np.array([s for _, s, _ in rs])
        return {
            "requests": len(rs),
            "statuses": dict(collections.Counter(st for st, _, _ in rs)),
            "as_expected": sum(ok for _, _, ok in rs),
            "p50_s": round(float(np.percentile(lat, 50)), 3),
            "p95_s": round(float(np.percentile(lat, 95)), 3),
        }

    by_kind = collections.defaultdict(list)
    for kind, status, seconds, ok in results:
        by_kind[kind].append((status, seconds, ok))
    rows = {kind: row(rs) for kind, rs in by_kind.items()}
    good_alone = row([(st, s, ok) for _, st, s, ok in alone])
    passed = alive and all(ok for *_, ok in results) and all(ok for *_, ok in alone) and r.status_code == 200
    print(
        json.dumps(
            {
                "good_clients_alone": good_alone,
                "rows": rows,
                "good_p50_under_load_x": round(rows["mixture"]["p50_s"] / good_alone["p50_s"], 2),
                "wall_s": round(wall, 1),
                "server_peak_rss_mb_under_load": round(rss_load),
                "worst_accepted_upload": worst_row,
                "server_up": alive,
                "passed": passed,
            },
            indent=1,
        )
    )
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
