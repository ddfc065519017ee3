"""Load on the demo server: a real `mirnet serve` process on localhost gets REQUESTS concurrent
requests, good and bad mixed (mixtures, a picked example, text posing as audio, empty bodies,
uploads over the size limit), and must answer every good one with its result and every bad one
with its 4xx, and still be up afterwards. Prints each kind's statuses, p50/p95 latency and the
server's peak RSS.

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
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

MAX_MB = 1.0  # the server's upload limit here, so an oversized upload stays cheap to send


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(f"{base}/api/info", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit(
                        f"the server did not start: {server.stderr.read() if server.poll() is not None else 'timeout'}"
                    )
                time.sleep(0.5)
        mixture = Path(a.mixture).read_bytes()
        kinds = {  # kind -> (url, body, the status it must get)
            "mixture": ("/api/analyze", mixture, 200),
            "example": (f"/api/analyze?example={Path(a.mixture).name}", b"", 200),
            "not audio": ("/api/analyze", b"this is not audio" * 100, 415),
            "empty": ("/api/analyze", b"", 400),
            "too large": ("/api/analyze", os.urandom(round(1.5 * MAX_MB * 2**20)), 413),
        }
        order = [list(kinds)[i % len(kinds)] for i in range(a.requests)]

        def send(kind: str) -> tuple[str, int, float, bool]:
            url, body, want = kinds[kind]
            start = time.perf_counter()
            r = httpx.post(base + url, content=body, timeout=600)
            ok = r.status_code == want and ("identities" in r.json() if want == 200 else "error" in r.json())
            return kind, r.status_code, time.perf_counter() - start, ok

        start = time.perf_counter()
        with ThreadPoolExecutor(a.requests) as pool:
            results = list(pool.map(send, order))
        wall = time.perf_counter() - start
        alive = httpx.get(f"{base}/api/info", timeout=10).status_code == 200
        rss = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    by_kind = collections.defaultdict(list)
    for kind, status, seconds, ok in results:
        by_kind[kind].append((status, seconds, ok))
    rows = {}
    for kind, rs in by_kind.items():
        lat = np.array([s for _, s, _ in rs])
        rows[kind] = {
            "requests": len(rs),
            "statuses": dict(collections.Counter(st for st, _, _ in rs)),
            "as_expected": sum(ok for _, _, ok in rs),
            "p50_s": round(float(np.percentile(lat, 50)), 3),
            "p95_s": round(float(np.percentile(lat, 95)), 3),
        }
    passed = alive and all(ok for *_, ok in results)
    print(
        json.dumps(
            {
                "rows": rows,
                "wall_s": round(wall, 1),
                "server_peak_rss_mb": round(rss),
                "server_up": alive,
                "passed": passed,
            },
            indent=1,
        )
    )
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
