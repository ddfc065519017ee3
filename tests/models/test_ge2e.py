"""The GE2E port (models/ge2e.py) on real synthesized speech: the very embedding resemblyzer's
own API gives, its windows cut where resemblyzer cuts them, and fine-tuning through the one
Trainer from resemblyzer's weights with the frozen pretrained network as the teacher."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mirnet
from mirnet.audio import load_audio
from mirnet.checkpoint import load_model, read_bundle
from mirnet.models.ge2e import partial_windows, slaney_mel_filterbank
from mirnet.progress import silent
from mirnet.train.trainer import Trainer

resemblyzer = pytest.importorskip(
    "resemblyzer", reason="resemblyzer is not installed (pip install -e '.[peers]')"
)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # resemblyzer's scipy import path


@pytest.fixture(scope="module")
def port():
    return load_model("resemblyzer")[0]


def test_mel_filterbank_is_librosas():
    import librosa

    np.testing.assert_allclose(
        slaney_mel_filterbank(16000, 400, 40), librosa.filters.mel(sr=16000, n_fft=400, n_mels=40), atol=1e-8
    )


@pytest.mark.parametrize("n_samples", [1, 159, 160, 12000, 25600, 30000, 47999, 48000, 48001, 61234, 160000])
def test_windows_are_cut_where_resemblyzer_cuts_them(n_samples):
    slices = resemblyzer.VoiceEncoder.compute_partial_slices(n_samples, 1.3, 0.75)[1]
    starts, padded = partial_windows(n_samples, 160, 160, 1.3, 0.75)
    assert starts == [s.start for s in slices] and padded == slices[-1].stop * 160


def test_the_port_gives_resemblyzers_own_embedding(port, corpus, one_thread):
    """Clips of 3 s (three windows) and 2.3 s (the last window dropped as under 3/4 full), at
    the corpus's level and at -50 dBFS, where the volume normalisation raises them."""
    from resemblyzer.audio import normalize_volume

    encoder = resemblyzer.VoiceEncoder(device="cpu", verbose=False)
    clips = sorted((corpus / "seen").rglob("*.flac"))[:2]
    for frames in (48000, 36800):
        wavs = np.stack([load_audio(p, frames=frames) for p in clips])
        for wav in (wavs, wavs * 0.003 / np.sqrt(np.mean(wavs**2, axis=1, keepdims=True))):
            wav = wav.astype(np.float32)
            with torch.no_grad():
                ours = port(torch.from_numpy(wav)).embeddings[:, 0].numpy()
            theirs = np.stack(
                [encoder.embed_utterance(normalize_volume(w, -30, increase_only=True)) for w in wav]
            )
            np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_fine_tuning_starts_from_resemblyzer_with_itself_as_teacher(
    tiny_config, corpus, tmp_path, one_thread
):
    """On clean single-speaker crops the student begins as its teacher (distance 0), so its
    weights came from the package; a few steps at a high rate move it, and the experiment
    dir embeds like any other through mirnet.load."""
    cfg = tiny_config(
        "model.name=ge2e",
        "data.n_speakers=1",
        "data.crop_seconds=1.0",
        "train.init_from=resemblyzer",
        "train.teacher=resemblyzer",
        "loss.ce_weight=0",
        "loss.teacher_weight=1",
        "optim.lr=1e-2",
        "train.epochs=2",
        model={},
    )
    start = load_model("resemblyzer")[0].state_dict()
    result = Trainer(cfg, tmp_path / "ge2e", progress=silent).run()
    steps = (tmp_path / "ge2e" / "steps.csv").read_text().splitlines()
    header, first = steps[0].split(","), steps[1].split(",")
    assert float(first[header.index("teacher")]) < 1e-6
    assert result["train_loss"] > 1e-4  # it moved away from the teacher
    tuned = read_bundle(tmp_path / "ge2e")["state_dict"]
    assert not torch.equal(tuned["speaker_net.linear.weight"], start["speaker_net.linear.weight"])
    emb = mirnet.load(tmp_path / "ge2e").embed(load_audio(sorted((corpus / "seen").rglob("*.flac"))[0]))
    assert emb.shape == (1, 256) and torch.allclose(emb.norm(dim=-1), torch.ones(1))
