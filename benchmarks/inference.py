"""Inference speed: ms per 3-s mixture (two embeddings out) and real-time factor of the compact
(committed reference) and paper configurations and of the separate-then-embed pair (fp32 and
bf16: what `mirnet report` spends its time on), beside resemblyzer on the same clips in the same
rounds; then every candidate inference optimisation against the plain path, timed in the
same rounds and checked against it on real mixtures.

    python benchmarks/inference.py [--threads 1 2] [--batch 16] [--rounds 8] [--paper-rounds 2]

resemblyzer embeds one clip into one embedding and has no batch call, so its rows are per clip;
"preprocess" is its volume normalisation + VAD trimming, "embed" its mel + LSTM on the result.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from _timing import (
    REPO,
    add_common_args,
    conditions,
    config_model,
    interleaved,
    real_mixtures,
    table,
    write_results,
)
from mirnet.checkpoint import load_model
from mirnet.eval.peers import Resemblyzer
from mirnet.export import export_model, load_exported
from mirnet.models.inference import fold_batchnorm, for_inference

SECONDS = 3.0


def _forward(model: torch.nn.Module, grad_mode=torch.inference_mode, autocast: bool = False):
    """x -> float32 embeddings under the given grad mode (and bf16 autocast)."""

    def run(x: torch.Tensor) -> torch.Tensor:
        with grad_mode(), torch.autocast("cpu", torch.bfloat16) if autocast else nullcontext():
            return model(x).embeddings.float()

    return run


def _traced(model: torch.nn.Module, example: torch.Tensor):
    """TorchScript trace + freeze (freezing folds conv-BN itself and inlines the weights)."""
    from mirnet.export import EmbeddingGraph

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation and the tracer's notes on shape checks
        frozen = torch.jit.freeze(torch.jit.trace(EmbeddingGraph(model), example, check_trace=False).eval())

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return frozen(x)

    return run


def _int8_linear(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of the Linear layers run as modules. The attention's Linear
    layers are not among them: it reads their weights directly (rotated per stream), so only
    the speaker network's embedding layer is quantised."""
    model = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        model.speaker_net = torch.ao.quantization.quantize_dynamic(
            model.speaker_net, {torch.nn.Linear}, torch.qint8
        )
    return model


def _onnx_runtime(path: Path):
    """The ``mirnet export --format onnx`` file in ONNX Runtime, at torch's thread count."""
    run = load_exported(path, "onnx")
    return lambda x: torch.from_numpy(run(x.numpy()))


def variants(
    model: torch.nn.Module, example: torch.Tensor, compile_: bool, onnx_file: Path | None = None
) -> dict[str, tuple[bool, callable]]:
    """name -> (meant to be exact, x -> embeddings). The first is the plain path every other is
    checked and timed against; "api path" is what ``mirnet.api.Embedder`` runs; ``onnx_file``
    is the same model exported."""
    fast = for_inference(model)
    out = {
        "plain eval forward, no_grad": (True, _forward(model, torch.no_grad)),
        "inference_mode": (True, _forward(model)),
        "inference_mode + folded BN": (True, _forward(fold_batchnorm(model))),
        "folded BN + channels_last (api path)": (True, _forward(fast)),
        "jit.trace + jit.freeze": (True, _traced(model, example)),
    }
    if compile_:
        out["torch.compile (inductor)"] = (True, _forward(torch.compile(fast)))
    if onnx_file is not None:
        out["ONNX Runtime (mirnet export)"] = (True, _onnx_runtime(onnx_file))
    out["api path + int8 dynamic Linear"] = (False, _forward(_int8_linear(fast)))
    out["api path + bf16 autocast (AMX)"] = (False, _forward(fast, autocast=True))
    return out


def agreement(got: torch.Tensor, want: torch.Tensor) -> dict:
    cos = F.cosine_similarity(got, want, dim=-1)
    return {"max_abs_diff": float((got - want).abs().max()), "max_cos_dev": float((1 - cos).max())}


def optimisations(
    name: str,
    model,
    mixtures: torch.Tensor,
    batches: list[int],
    rounds: int,
    threads: int,
    compile_: bool,
    onnx_file: Path | None = None,
) -> list[dict]:
    """One row per (variant, batch): time per mixture and speed-up over the plain path in the
    same rounds, and the variant's agreement with the plain path on all ``mixtures``."""
    torch.set_num_threads(threads)
    fns = variants(model, mixtures[:2], compile_, onnx_file)
    want = fns["plain eval forward, no_grad"][1](mixtures)
    checks = {}
    for variant, (exact, fn) in fns.items():  # the first call also traces or compiles
        start = time.perf_counter()
        checks[variant] = {
            "exact": exact,
            **agreement(fn(mixtures), want),
            "first_call_s": time.perf_counter() - start,
        }
    rows = []
    for batch in batches:
        x = mixtures[:batch]
        timed = interleaved({v: (lambda fn=fn, x=x: fn(x)) for v, (_, fn) in fns.items()}, rounds)
        rows += [
            {
                "model": name,
                "variant": v,
                "threads": threads,
                "batch": batch,
                "ms_per_mixture": t["median_ms"] / batch,
                "min_ms_per_mixture": t["min_ms"] / batch,
                "cpu_ms_per_mixture": t["cpu_ms"] / batch,
                "speedup": 1 / t["ratio"],
                **checks[v],
            }
            for v, t in timed.items()
        ]
    return rows


def speed(systems: dict[str, tuple[callable, int]], rounds: int, threads: int) -> list[dict]:
    """Rows of ms per mixture; the first system must be resemblyzer (full), the reference of
    the "vs resemblyzer" column, computed per round so that it survives the load."""
    torch.set_num_threads(threads)
    timed = interleaved({name: fn for name, (fn, _) in systems.items()}, rounds)
    ref_batch = next(iter(systems.values()))[1]
    rows = []
    for name, t in timed.items():
        batch = systems[name][1]
        ms = t["median_ms"] / batch
        rows.append(
            {
                "system": name,
                "threads": threads,
                "batch": batch,
                "ms_per_mixture": ms,
                "min_ms_per_mixture": t["min_ms"] / batch,
                "cpu_ms_per_mixture": t["cpu_ms"] / batch,
                "rtf": ms / 1000 / SECONDS,
                "x_real_time": SECONDS * 1000 / ms,
                "vs_resemblyzer": t["ratio"] * ref_batch / batch,
            }
        )
    return rows


def check_targets(rows: list[dict]) -> dict:
    """The speed targets, on wall time and on CPU time (what an unshared core would take): the
    compact model at each precision, and its time against resemblyzer's in the same rounds."""
    out = {}
    for name in ("mirnet compact", "mirnet compact, bf16"):
        r = next(r for r in rows if r["system"] == name and r["threads"] == 1)
        key = name.replace("mirnet ", "").replace(", ", "_")
        out |= {f"{key}_cpu_ms": r["cpu_ms_per_mixture"], f"{key}_vs_resemblyzer": r["vs_resemblyzer"]}
        out[f"{key}_met"] = r["cpu_ms_per_mixture"] <= 15.0
        print(
            f"target {name} <= 15 ms per mixture on 1 thread: {r['ms_per_mixture']:.1f} ms wall, "
            f"{r['cpu_ms_per_mixture']:.1f} ms CPU ({'met' if out[f'{key}_met'] else 'not met'}), "
            f"{r['vs_resemblyzer']:.2f}x resemblyzer's time (target <= 0.35)"
        )
    paper = [r for r in rows if r["system"].startswith("mirnet paper") and r["threads"] == 2]
    best = max((r["x_real_time"] for r in paper), default=0.0)
    out |= {"paper_x_real_time_2_threads": best, "paper_met": best >= 10.0}
    print(
        f"target paper >= 10x real time on 2 threads: {best:.2f}x ({'met' if out['paper_met'] else 'not met'})"
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--compact", default=str(REPO / "models" / "mirnet"), help="trained compact model")
    p.add_argument(
        "--reference", default=str(REPO / "models" / "reference"), help="the separate-then-embed pair"
    )
    p.add_argument("--paper-config", default=str(REPO / "configs" / "mirnet_paper.yaml"))
    p.add_argument(
        "--data", default=str(REPO / "data" / "corpus" / "unseen"), help="corpus to mix clips from"
    )
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=16, help="throughput batch of the compact model")
    p.add_argument("--paper-batch", type=int, default=4, help="throughput batch of the paper model")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--paper-rounds", type=int, default=2)
    p.add_argument("--opt-threads", type=int, default=1, help="threads for the optimisation comparison")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (about a minute per shape)")
    p.add_argument(
        "--sections", nargs="+", choices=("speed", "optimisations"), default=["speed", "optimisations"]
    )
    add_common_args(p, "inference")
    a = p.parse_args()
    from mirnet.api import Embedder

    start = conditions()
    compact, pair = load_model(a.compact)[0], load_model(a.reference)[0]
    paper = config_model(a.paper_config)[1].eval()
    clips = real_mixtures(a.data, a.batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = Resemblyzer()
        import resemblyzer
    wavs = [w.numpy() for w in clips]
    trimmed = [resemblyzer.preprocess_wav(w) for w in wavs]
    embedders = {
        "compact": Embedder(compact, {}).embed_batch,
        "compact bf16": Embedder(compact, {}, precision="bf16").embed_batch,
        "paper": Embedder(paper, {}).embed_batch,
        "pair": Embedder(pair, {}).embed_batch,
        "pair bf16": Embedder(pair, {}, precision="bf16").embed_batch,
    }
    resemblyzer_full = (
        lambda: [peer.encoder.embed_utterance(resemblyzer.preprocess_wav(w)) for w in wavs],
        len(wavs),
    )
    rows, opt, targets = [], [], {}
    for threads in a.threads if "speed" in a.sections else []:
        rows += speed(
            {
                "resemblyzer (preprocess + embed)": resemblyzer_full,
                "resemblyzer preprocess only": (
                    lambda: [resemblyzer.preprocess_wav(w) for w in wavs],
                    len(wavs),
                ),
                "resemblyzer embed only": (
                    lambda: [peer.encoder.embed_utterance(w) for w in trimmed],
                    len(wavs),
                ),
                "mirnet compact": (lambda: embedders["compact"](clips[:1]), 1),
                # --precision bf16: auto's choice where AMX exists, an opt-in on other bf16 CPUs
                "mirnet compact, bf16": (lambda: embedders["compact bf16"](clips[:1]), 1),
                f"mirnet compact, batch {a.batch}": (lambda: embedders["compact"](clips), a.batch),
                # what `mirnet report` spends most of its time on; make demo takes bf16 where native
                f"reference pair, batch {a.batch}": (lambda: embedders["pair"](clips), a.batch),
                f"reference pair, bf16, batch {a.batch}": (lambda: embedders["pair bf16"](clips), a.batch),
            },
            a.rounds,
            threads,
        )
        rows += speed(
            {
                "resemblyzer (preprocess + embed)": resemblyzer_full,
                "mirnet paper": (lambda: embedders["paper"](clips[:1]), 1),
                f"mirnet paper, batch {a.paper_batch}": (
                    lambda: embedders["paper"](clips[: a.paper_batch]),
                    a.paper_batch,
                ),
            },
            a.paper_rounds,
            threads,
        )
        print(f"threads {threads} measured", flush=True)
    if rows:
        print(
            table(
                rows,
                [
                    "system",
                    "threads",
                    "batch",
                    "ms_per_mixture",
                    "min_ms_per_mixture",
                    "cpu_ms_per_mixture",
                    "rtf",
                    "x_real_time",
                    "vs_resemblyzer",
                ],
            )
        )
        targets = check_targets(rows)
    if "optimisations" in a.sections:
        with tempfile.TemporaryDirectory() as tmp:
            onnx_file = export_model(a.compact, "onnx", Path(tmp) / "compact.onnx")[0]
            opt = optimisations(
                "compact", compact, clips, [1, a.batch], a.rounds, a.opt_threads, not a.no_compile, onnx_file
            )
        opt += optimisations("paper", paper, clips[:2], [1], a.paper_rounds, a.opt_threads, False)
        print(
            table(
                opt,
                [
                    "model",
                    "variant",
                    "batch",
                    "ms_per_mixture",
                    "min_ms_per_mixture",
                    "cpu_ms_per_mixture",
                    "speedup",
                    "exact",
                    "max_abs_diff",
                    "max_cos_dev",
                    "first_call_s",
                ],
            )
        )
    write_results(a, "inference", start, clip_seconds=SECONDS, speed=rows, optimisations=opt, targets=targets)


if __name__ == "__main__":
    main()
