"""What the paper recipe costs: model FLOPs of one training step (forward + backward, PIT
cross-entropy) counted exactly on the meta device, the measured wall time of a small step here,
and GPU hours at an assumed sustained fraction of peak. An estimate from FLOPs, not a GPU
measurement: pass --device cuda on a GPU machine to time real steps instead.

    python benchmarks/paper_recipe_compute.py [--config configs/recipes/librispeech_mirnet_paper.yaml]
        [--batch 4] [--threads 2] [--repeats 2] [--utilization 0.2] [--json runs/paper_recipe_compute.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from mirnet.architectures import model_from_config
from mirnet.audio import SAMPLE_RATE
from mirnet.losses.classification import SpeakerClassifier
from mirnet.losses.mixture import MixtureLoss
from mirnet.train.experiment import load_experiment

# dense tensor-core peaks (NVIDIA data sheets, SXM parts); the trainer runs float32, and cuDNN's
# convolutions (nearly all of this model's FLOPs) use TF32 by default
PEAK_TFLOPS = {"A100 TF32": 156.0, "A100 BF16 (AMP)": 312.0, "H100 TF32": 494.7, "H100 BF16 (AMP)": 989.4}
# sustained share of peak assumed. NVIDIA's published ResNet-50 v1.5 training throughput on one
# A100 80GB (DeepLearningExamples, PyTorch: 938 images/s TF32, 2,470 AMP), at about 24.6 GFLOP per
# image forward+backward, is 15% of TF32 peak and 20% of BF16 peak; this model's FLOPs are 3x3
# convolutions on large maps (257 x 301 at 64 channels), cuDNN's best case, so we assume 20%
UTILIZATION = 0.20
TRAIN_SPEAKERS = 2338  # train-clean-100 (251) + train-clean-360 (921) + train-other-500 (1166)


def build(cfg, device: str):
    model = model_from_config(cfg.model, cfg.data.n_speakers).to(device)
    classifier = SpeakerClassifier(model.embed_dim, TRAIN_SPEAKERS, kind=cfg.loss.classifier).to(device)
    return model, MixtureLoss(classifier, ce_weight=cfg.loss.ce_weight)


def step(model, loss_fn, batch: int, samples: int, n: int, device: str, backward: bool = True) -> None:
    """One training step as the trainer takes it (without the optimizer's elementwise update)."""
    mixture = torch.randn(batch, samples, device=device)
    labels = torch.stack([torch.randperm(TRAIN_SPEAKERS, device=device)[:n] for _ in range(batch)])
    loss, _ = loss_fn(model(mixture), labels)
    if backward:
        loss.backward()


def count_flops(cfg, batch: int, samples: int, backward: bool) -> int:
    with torch.device("meta"):
        model, loss_fn = build(cfg, "meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.set_grad_enabled(backward):
        step(model, loss_fn, batch, samples, cfg.data.n_speakers, "meta", backward)
    return counter.get_total_flops()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/recipes/librispeech_mirnet_paper.yaml")
    p.add_argument("--batch", type=int, default=4, help="batch of the timed steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2, help="timed steps after one warm-up step")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--utilization", type=float, default=UTILIZATION, help="assumed sustained fraction of GPU peak"
    )
    p.add_argument("--json", default="runs/paper_recipe_compute.json")
    a = p.parse_args()
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = load_experiment(a.config)
    d, samples = cfg.data, round(cfg.data.crop_seconds * SAMPLE_RATE)

    train_mix = count_flops(cfg, 1, samples, backward=True)  # FLOPs are linear in the batch
    val_mix = count_flops(cfg, 1, samples, backward=False)
    epoch = train_mix * d.epoch_size + val_mix * d.val_size
    total = epoch * cfg.train.epochs
    steps = cfg.train.epochs * -(-d.epoch_size // d.batch_size)

    model, loss_fn = build(cfg, a.device)
    step(model, loss_fn, a.batch, samples, d.n_speakers, a.device)  # warm-up
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    sync()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(a.repeats):
        model.zero_grad(set_to_none=True)
        step(model, loss_fn, a.batch, samples, d.n_speakers, a.device)
    sync()
    step_s = (time.perf_counter() - start) / a.repeats
    cpu_s = (
        time.process_time() - cpu_start
    ) / a.repeats  # CPU time of this process: what a shared machine did not take

    result = {
        "config": a.config,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_gflop_per_mixture": train_mix / 1e9,
        "val_gflop_per_mixture": val_mix / 1e9,
        "train_tflop_per_step": train_mix * d.batch_size / 1e12,
        "batch_size": d.batch_size,
        "steps": steps,
        "epochs": cfg.train.epochs,
        "epoch_size": d.epoch_size,
        "val_size": d.val_size,
        "pflop_per_epoch": epoch / 1e15,
        "eflop_total": total / 1e18,
        "measured": {
            "device": a.device,
            "threads": a.threads,
            "batch": a.batch,
            "seconds_per_step": step_s,
            "process_cpu_seconds_per_step": cpu_s,
            "achieved_gflops": train_mix * a.batch / step_s / 1e9,
            "hours_per_epoch_at_this_rate": d.epoch_size / a.batch * step_s / 3600,
        },
        "utilization_assumed": a.utilization,
        "gpu_estimate": {
            name: {
                "peak_tflops": peak,
                "hours_per_epoch": epoch / (peak * 1e12 * a.utilization) / 3600,
                "hours_total": total / (peak * 1e12 * a.utilization) / 3600,
            }
            for name, peak in PEAK_TFLOPS.items()
        },
    }
    print(
        f"{a.config}: {result['parameters'] / 1e6:.1f} M parameters; "
        f"{result['train_gflop_per_mixture']:.0f} GFLOP per training mixture (forward+backward), "
        f"{result['val_gflop_per_mixture']:.0f} per validation mixture (forward)"
    )
    print(
        f"{result['train_tflop_per_step']:.1f} TFLOP per step of {d.batch_size}; {steps} steps "
        f"({cfg.train.epochs} epochs x {d.epoch_size} mixtures); {result['pflop_per_epoch']:.1f} PFLOP per epoch "
        f"with validation, {result['eflop_total']:.2f} EFLOP in all"
    )
    m = result["measured"]
    print(
        f"measured on {a.device} ({a.threads} threads), batch {a.batch}: {step_s:.1f} s per step "
        f"({cpu_s:.1f} s of this process's CPU time), {m['achieved_gflops']:.1f} GFLOP/s "
        f"-> {m['hours_per_epoch_at_this_rate']:.0f} h per epoch at this rate"
    )
    print(f"\nestimate from FLOPs at {a.utilization:.0%} of peak (not a GPU measurement):")
    print(f"{'GPU, precision':<18} {'peak TFLOP/s':>12} {'h/epoch':>8} {'h total':>8}")
    for name, g in result["gpu_estimate"].items():
        print(f"{name:<18} {g['peak_tflops']:>12.0f} {g['hours_per_epoch']:>8.2f} {g['hours_total']:>8.1f}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    print(a.json)


if __name__ == "__main__":
    main()
