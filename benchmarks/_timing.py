"""What the benchmark scripts share: interleaved timing, real mixtures, tables and JSON.

Variants are timed in interleaved rounds (A B C, A B C, ...), and every variant's time is
also kept as a ratio to the first variant's time in the same round: on a machine shared with
other jobs, absolute times drift with the load while same-round ratios mostly survive it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mirnet.architectures import model_from_config
from mirnet.config import ExperimentConfig
from mirnet.corpus import open_corpus
from mirnet.data.mixing import MixingConfig, draw_mixture, mix, read_sources
from mirnet.train.experiment import load_experiment

REPO = Path(__file__).resolve().parents[1]


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> dict[str, dict]:
    """Time each fn over ``rounds`` interleaved rounds -> per name: median and min wall ms,
    median process CPU ms (what the call cost the cores it ran on, whatever else ran beside it)
    and the median over rounds of its wall time / the first fn's wall time in the same round."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    base = wall[next(iter(fns))]
    return {
        name: {
            "median_ms": 1000 * statistics.median(t),
            "min_ms": 1000 * min(t),
            "cpu_ms": 1000 * statistics.median(cpu[name]),
            "ratio": statistics.median(a / b for a, b in zip(t, base)),
            "rounds": rounds,
        }
        for name, t in wall.items()
    }


def real_mixtures(data: str | Path, count: int, seconds: float = 3.0, seed: int = 0) -> torch.Tensor:
    """(count, samples) two-speaker mixtures from a corpus, drawn as training draws them."""
    manifest = open_corpus(data)
    index, rng = manifest.index, np.random.default_rng(seed)
    cfg = MixingConfig(2, seconds)
    return torch.from_numpy(
        np.stack([mix(read_sources(draw_mixture(manifest, rng, cfg), index))[0] for _ in range(count)])
    )


def conditions() -> dict:
    """The machine and how busy it was: every figure is read against these."""
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def add_common_args(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument(
        "--json",
        type=Path,
        default=REPO / "runs" / "bench" / f"{name}.json",
        help=f"results file (default runs/bench/{name}.json)",
    )


def table(rows: list[dict], columns: list[str]) -> str:
    """Plain aligned text: the figures must read the same in a terminal and pasted into the docs."""
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    return "\n".join(lines + ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells])


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")


def keep_freed_memory() -> None:
    """glibc's malloc thresholds as every mirnet command sets them (``mirnet.allocator``); a
    benchmark comparing against them must not run silently without them."""
    from mirnet.allocator import keep_freed_memory as keep

    assert keep(), "glibc's malloc, with no MALLOC_* settings in the environment"


def write_results(a: argparse.Namespace, name: str, start: dict, **sections) -> None:
    """``a.json``: which benchmark, its arguments, the machine at start and end, then ``sections``."""
    meta = {"benchmark": name, "args": {k: str(v) for k, v in vars(a).items()}}
    write_json(a.json, {**meta, "conditions_start": start, "conditions_end": conditions(), **sections})


def config_model(
    path: str | Path, seed: int = 0, overrides: list[str] | None = None
) -> tuple[ExperimentConfig, torch.nn.Module]:
    """A config's model (with ``key=value`` overrides), randomly initialised as training starts
    it: enough for speed."""
    cfg = load_experiment(path, overrides or [])
    torch.manual_seed(seed)
    return cfg, model_from_config(cfg.model, cfg.data.n_speakers)
