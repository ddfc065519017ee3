"""Python API: ``mirnet.load(EXP).embed(waveform)`` -> (N, D) speaker embeddings, and
``mirnet.load_separator(EXP).separate(waveform)`` -> (N, samples) separated speakers.

It sits above the models and checkpoints and below ``eval/``: evaluation scores a system
through the very objects a user loads, and the CLI composes both."""

from __future__ import annotations

import json
import warnings
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from .atomic import write_text
from .audio import SAMPLE_RATE, check_waveform, load_audio, resample_rate, save_audio, to_mono_16k
from .checkpoint import conditioner_spec, load_conditioner, load_model, model_fingerprint, resolve
from .errors import InputError
from .export import onnx_embedder
from .models.inference import for_inference
from .progress import Progress, silent
from .separation.chunking import separate_in_chunks


def _load_kind(path: str | Path, kind: str, loader: str) -> tuple[torch.nn.Module, dict]:
    """A model file of ``kind``; another kind is refused in one line that says what it is."""
    model, bundle = load_model(path)
    if getattr(model, "kind", "embedder") != kind:
        noun = {"embedder": "an embedder", "separator": "a separator"}
        other = {
            "embedder": "mirnet.load / mirnet embed",
            "separator": "mirnet.load_separator / mirnet separate",
        }
        raise InputError(
            f"{path}: this is {noun[model.kind]} ({bundle['model']['name']}), not {noun[kind]}; "
            f"use {other[model.kind]} (asked for by {loader})"
        )
    return model, bundle


PRECISIONS = ("auto", "fp32", "bf16")
RUNTIMES = ("torch", "onnx")


def inference_precision(precision: str = "auto") -> str:
    """What ``auto`` means on this CPU: bf16 autocast where it has AMX tiles (1.3-1.7x faster on
    the compact model, its EER unchanged on the 1000-trial list: 23.0 -> 22.9%, docs/benchmarks.md),
    fp32 elsewhere, so that the published figures are what a CPU without AMX reproduces. ``fp32``
    and ``bf16`` are taken as given (``bf16`` also pays on AVX512-BF16 CPUs)."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if torch.cpu._is_amx_tile_supported() else "fp32"
    return precision


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), where ``bf16`` pays (1.5x on
    the separate-then-embed pair on AVX512-BF16, docs/benchmarks.md); elsewhere it is emulated and
    slower. ``make demo`` reads it to choose its precision."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


class ConversionWarning(UserWarning):
    """A waveform handed to the API was downmixed or resampled before the model heard it."""


def _mono_16k(waveform, sample_rate: int, min_seconds: float) -> np.ndarray:
    """The model's input; a conversion is a warning, so that a Python user who configured no
    logging sees it too (once per calling line, Python's default), as the CLI's log line says it."""
    wav = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    done = [f"{wav.shape[1]} channels downmixed"] if wav.ndim == 2 and wav.shape[1] > 1 else []
    done += [f"resampled {sample_rate} Hz -> {SAMPLE_RATE} Hz"] if sample_rate != SAMPLE_RATE else []
    out = check_waveform(to_mono_16k(wav.astype(np.float32), sample_rate), min_seconds=min_seconds)
    if done:  # after the checks: a refused waveform is an error, not a warning
        warnings.warn(f"waveform {' and '.join(done)} for the model", ConversionWarning, stacklevel=3)
    return out


class Embedder:
    """A trained model plus the facts a caller needs: how many speakers it separates
    (``n_speakers``), the embedding size, and the training speakers it was taught.

    ``model`` is the model as trained; embeddings come from a copy of it made here, with BatchNorm
    folded into the convolutions and channels-last 2-D convolutions (same embeddings to float
    rounding, faster: docs/benchmarks.md), so a later change to ``model``'s weights does not reach them.
    ``precision`` (``inference_precision``) chooses fp32 or bf16 autocast for that copy.
    ``runtime="onnx"`` runs the model's ONNX export (``mirnet export``) in ONNX Runtime instead, in
    fp32; it gives embeddings only (no streams)."""

    def __init__(
        self,
        model: torch.nn.Module,
        bundle: dict,
        source: str = "",
        precision: str = "auto",
        runtime: str = "torch",
    ):
        self.model, self.bundle, self.source = model.eval(), bundle, source
        if runtime not in RUNTIMES:
            raise InputError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if runtime == "onnx" and not source:
            raise InputError("runtime onnx runs the export beside a model file; this model has none")
        if runtime == "onnx" and precision == "bf16":
            raise InputError("precision bf16 runs in torch only; the ONNX runtime runs the fp32 export")
        self.runtime = runtime
        self.precision = "fp32" if runtime == "onnx" else inference_precision(precision)
        self._fast = for_inference(self.model) if runtime == "torch" else None
        self._onnx = onnx_embedder(source, self.fingerprint) if runtime == "onnx" else None
        self.n_speakers = getattr(model, "n_speakers", 1)
        self.embed_dim = model.embed_dim
        self.speakers = bundle.get("speakers", [])
        # the shortest input the model takes: its STFT pads each end by n_fft/2 by reflection
        self.shortest_seconds = (model.features.n_fft // 2 + 1) / SAMPLE_RATE

    @classmethod
    def from_pretrained(cls, path: str | Path, precision: str = "auto", runtime: str = "torch") -> Embedder:
        model, bundle = _load_kind(path, "embedder", "mirnet.load")
        return cls(model, bundle, str(path), precision, runtime)

    @cached_property
    def fingerprint(self) -> str:
        """The model file's SHA-1 (``checkpoint.model_fingerprint``), which calibrations and galleries
        are checked against; hashed on first use, not at every load; empty without a file."""
        return model_fingerprint(self.source) if self.source else ""

    def embed_batch(self, wavs: torch.Tensor) -> torch.Tensor:
        """(B, samples) float at 16 kHz -> (B, N, D); no checks, for trusted pipelines."""
        return self.embed_streams_batch(wavs)[0]

    def embed_streams_batch(self, wavs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, samples) -> embeddings (B, N, D) and, from a model that separates before it embeds
        (a separating embedder), its streams (B, N, samples), else None: what each identity heard,
        which diarization reads as the identity's activity in time."""
        if self._onnx is not None:
            return self._onnx(wavs.float().contiguous()), None
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.precision == "bf16"):
            out = self._fast(wavs)
        return out.embeddings.float(), None if out.streams is None else out.streams.float()

    def embed(self, waveform, sample_rate: int = SAMPLE_RATE, min_seconds: float = 0.5) -> torch.Tensor:
        """One waveform, (samples,) or (samples, channels), at ``sample_rate`` -> (N, D).

        Stereo is downmixed and other rates resampled to 16 kHz (logged); empty, non-finite,
        silent or too-short input raises AudioError."""
        wav = _mono_16k(waveform, sample_rate, max(min_seconds, self.shortest_seconds))
        return self.embed_batch(torch.from_numpy(wav)[None])[0]

    def embed_file(self, path: str | Path, min_seconds: float = 0.5) -> torch.Tensor:
        wav = load_audio(path, min_seconds=max(min_seconds, self.shortest_seconds))
        return self.embed_batch(torch.from_numpy(wav)[None])[0]


class Separator:
    """A trained separator: mixture -> one waveform per speaker, at 16 kHz.

    A speaker-independent (uPIT) separator gives ``n_outputs`` waveforms in no particular order.
    A conditioned one (VoiceFilter) gives one waveform per target embedding. Its conditioner
    came with its checkpoint. A mixture embedder (MIRNet) supplies the mixture's own N
    identities, so output k is the speaker of ``identities[k]``. A single-speaker embedder
    needs the targets' enrollment recordings, and output k is the speaker of enrollment k.

    Long input is separated in overlapping chunks (``chunk_seconds``, ``overlap_seconds``),
    with each chunk's outputs matched to the previous chunk's. Memory stays bounded for files
    of any length."""

    def __init__(
        self,
        model: torch.nn.Module,
        bundle: dict,
        source: str = "",
        chunk_seconds: float = 6.0,
        overlap_seconds: float = 2.0,
        conditioner: str | Path | None = None,
    ):
        """``conditioner``: another embedder (experiment dir, or ``resemblyzer``) in place of the one
        the separator was trained with, to measure what a mismatched embedding space costs."""
        self.model, self.bundle, self.source = model.eval(), bundle, source
        self.conditioner = None
        if conditioner is not None:
            if not model.embed_dim:
                raise InputError(f"{source}: a speaker-independent separator takes no conditioner")
            self.conditioner = load_conditioner(conditioner_spec(conditioner))
            if self.conditioner.embed_dim != model.embed_dim:
                raise InputError(
                    f"{conditioner}: gives {self.conditioner.embed_dim}-dimensional embeddings, "
                    f"{source} takes {model.embed_dim}"
                )
        elif model.embed_dim:
            self.conditioner = load_conditioner(bundle["conditioner"], resolve(source))
        self.mode = self.conditioner.mode if self.conditioner is not None else "independent"
        self.chunk = round(chunk_seconds * SAMPLE_RATE)
        self.overlap = round(overlap_seconds * SAMPLE_RATE)
        self.shortest_seconds = (model.features.n_fft // 2 + 1) / SAMPLE_RATE

    @property
    def n_outputs(self) -> int | None:
        """Waveforms per mixture; None for a separator of enrolled speakers (one per enrollment)."""
        if self.mode == "enrolled":
            return None
        return self.model.n_outputs if self.mode == "independent" else self.conditioner.embedder.n_speakers

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> Separator:
        model, bundle = _load_kind(path, "separator", "mirnet.load_separator")
        return cls(model, bundle, str(path), **kwargs)

    def separate_batch(self, wavs: torch.Tensor, embeddings: torch.Tensor | None = None) -> torch.Tensor:
        """(B, samples) at 16 kHz -> (B, N, samples); no checks. A conditioned separator runs
        once per target embedding: ``embeddings`` (B, N, D), by default the mixture's own
        identities from its conditioner."""
        with torch.inference_mode():
            if self.conditioner is None:
                return self.model(wavs)
            if embeddings is None:
                embeddings = self.conditioner({"mixture": wavs})
            b, n = embeddings.shape[:2]
            return self.model(wavs.repeat_interleave(n, 0), embeddings.flatten(0, 1)).view(b, n, -1)

    def separate(self, waveform, sample_rate: int = SAMPLE_RATE, enrollment=None) -> torch.Tensor:
        """One waveform, (samples,) or (samples, channels), at ``sample_rate`` -> (N, samples)
        float32 at 16 kHz. ``enrollment``: for a separator conditioned on enrolled references,
        one clean recording of each target (a list of waveforms at ``sample_rate``).

        Stereo is downmixed and other rates resampled. Empty, non-finite, silent or too-short
        input raises AudioError."""
        wav = torch.from_numpy(_mono_16k(waveform, sample_rate, self.shortest_seconds))
        refs = None if enrollment is None else [_mono_16k(r, sample_rate, 0.5) for r in enrollment]
        return self._separate(wav, refs)

    def separate_file(
        self, path: str | Path, enrollment: list[str | Path] | None = None, progress: Progress = silent
    ) -> torch.Tensor:
        """A file of any rate and length -> (N, samples) at 16 kHz; ``progress``: a bar over its
        chunks."""
        wav = torch.from_numpy(load_audio(path, min_seconds=self.shortest_seconds))
        refs = None if enrollment is None else [load_audio(p, min_seconds=0.5) for p in enrollment]
        return self._separate(wav, refs, progress)

    @staticmethod
    def at_rate(estimates: torch.Tensor, sample_rate: int) -> np.ndarray:
        """(N, samples) at 16 kHz -> the same at ``sample_rate`` (as an input's own rate, so that
        the outputs line up with it), by the polyphase resampler every conversion here uses."""
        return np.stack([resample_rate(w, SAMPLE_RATE, sample_rate) for w in estimates.numpy()])

    def write_tracks(
        self,
        path: str | Path,
        out: str | Path,
        sample_rate: int,
        enrollment: list[str | Path] | None = None,
        progress: Progress = silent,
    ) -> dict:
        """Separate the file ``path`` into OUT/STEM.speakerK.wav at ``sample_rate`` and write beside
        them OUT/STEM.json, which says what was written: the mixture, this separator, its
        conditioning, the rate, and each track's file with whose voice it is (``identity`` k of
        the mixture's own, or the ``enrollment`` recording it was conditioned on; a
        speaker-independent separator's tracks are in no order). Returns that metadata."""
        estimates = self.at_rate(
            self.separate_file(path, enrollment=enrollment, progress=progress), sample_rate
        )
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        stem = Path(path).stem
        outputs = []
        for k, wav in enumerate(estimates):
            track = save_audio(out / f"{stem}.speaker{k + 1}.wav", wav, sample_rate)
            if self.mode == "mixture":
                who = {"identity": k}
            elif self.mode == "enrolled":
                who = {"enrollment": str(enrollment[k])}
            else:
                who = {}
            outputs.append({"file": track.name, **who})
        meta = {
            "mixture": str(path),
            "separator": self.source,
            "conditioning": self.mode,
            "sample_rate": sample_rate,
            "outputs": outputs,
        }
        write_text(out / f"{stem}.json", json.dumps(meta, indent=1) + "\n")
        return meta

    def enrolled_embeddings(self, refs: list[np.ndarray] | None) -> torch.Tensor | None:
        """(N, D) unit embeddings of the targets' enrollment recordings (each at 16 kHz), each
        embedded alone; None for a separator that takes none."""
        if self.mode != "enrolled":
            if refs is not None:
                why = (
                    "its conditioner embeds the mixture"
                    if self.mode == "mixture"
                    else "it is speaker-independent"
                )
                raise InputError(f"{self.source}: this separator takes no enrollment recordings ({why})")
            return None
        if not refs:
            raise InputError(
                f"{self.source}: this separator is conditioned on enrolled references: give one "
                f"clean recording of each target speaker"
            )
        with torch.inference_mode():
            return torch.cat([self.conditioner.embed(torch.from_numpy(r)[None]) for r in refs], dim=1)[0]

    def separate_long(
        self, wav: torch.Tensor, embeddings: torch.Tensor | None = None, progress: Progress = silent
    ) -> torch.Tensor:
        """(samples,) at 16 kHz [, (N, D) target embeddings] -> (N, samples), in overlapping
        chunks (``separate_in_chunks``) when longer than one; no checks."""
        emb = None if embeddings is None else embeddings[None]
        return separate_in_chunks(
            lambda chunk: self.separate_batch(chunk, emb), wav, self.chunk, self.overlap, progress
        )

    def _separate(
        self, wav: torch.Tensor, refs: list[np.ndarray] | None, progress: Progress = silent
    ) -> torch.Tensor:
        return self.separate_long(wav, self.enrolled_embeddings(refs), progress)


def load(path: str | Path, precision: str = "auto", runtime: str = "torch") -> Embedder:
    """A trained embedder: an experiment dir or model file, or the name of a shipped one
    (``reference``, ``mirnet``, ``mirnet/teacher``, ``cascade``: ``mirnet.pretrained``; a path that
    exists wins), or the peer ``resemblyzer``; ``precision``: auto (bf16 autocast where
    the CPU has AMX, else fp32), fp32 or bf16; ``runtime``: torch, or onnx (its ``mirnet export``
    file in ONNX Runtime)."""
    return Embedder.from_pretrained(path, precision, runtime)


def load_separator(path: str | Path, **kwargs) -> Separator:
    """A trained separator: an experiment dir or model file, or the name of a shipped one (``upit``,
    ``voicefilter_mirnet``, ``voicefilter_enrolled``: ``mirnet.pretrained``; a path that exists
    wins); ``kwargs`` as :class:`Separator`."""
    return Separator.from_pretrained(path, **kwargs)
