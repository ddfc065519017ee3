"""The demo server: every bad upload gets its 4xx and one line, a full pool a 429, nothing is left
outside a temporary folder; good clips get identities, gallery names, a timeline and tracks."""

from __future__ import annotations

import base64
import io
import tempfile
import threading

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

import mirnet
from mirnet.apps.verification import Gallery
from mirnet.audio import SAMPLE_RATE, frame_db, load_audio
from mirnet.serve.server import Limits, Service, create_app

from ..conftest import REPO

MIRNET = REPO / "models" / "mirnet"
LOCAL = "http://127.0.0.1:8000"


def _client(embedder, clips, **limits) -> TestClient:
    out, _ = clips
    gallery = Gallery.open(out / "gallery", embedder.fingerprint, embedder.embed_dim)
    service = Service(embedder, None, gallery, {"mix.wav": out / "mix.wav"}, Limits(**limits))
    return TestClient(create_app(service), base_url=LOCAL)


def test_a_clip_gets_its_identities_named_from_the_gallery(embedder, clips):
    out, speakers = clips
    client = _client(embedder, clips)
    r = client.post("/api/analyze", content=(out / "mix.wav").read_bytes(), headers={"X-Filename": "mix.wav"})
    assert r.status_code == 200, r.text
    names = sorted(i["name"] for i in r.json()["identities"])
    assert names == [f"voice-{s}" for s in speakers]
    assert client.post("/api/analyze?example=mix.wav").json()["identities"] == r.json()["identities"]
    page = client.get("/").text
    assert "<title>mirnet" in page and "/api/analyze" in page


def _who_talks(corpus, speakers) -> tuple[dict[str, np.ndarray], int]:
    """Each talker's 10-ms frames of speech (within 40 dB of the utterance's loudest) in long.wav,
    which plays utterances 1 and 2 of each of ``speakers`` in turn (see conftest.clips); and its
    length in samples."""
    parts = [
        (s, load_audio(sorted((corpus / "seen").glob(f"{s}/*/*.flac"))[k])) for k in (1, 2) for s in speakers
    ]
    samples = sum(len(w) for _, w in parts)
    frames = -(-samples // 160)
    talks, at = {s: np.zeros(frames, bool) for s in speakers}, 0
    for s, w in parts:
        db = frame_db(w, 160)
        active = db > db.max() - 40
        talks[s][at // 160 : at // 160 + len(active)] |= active[: frames - at // 160]
        at += len(w)
    return talks, samples


def test_a_long_clip_gets_a_timeline_and_a_separator_gives_tracks(embedder, clips, corpus):
    """The timeline of a clip of two talkers taking turns: its turns lie within the clip and cover
    their speech; 2 speakers, or 3 (a window of one talker still gives two outputs, and the second
    may become a cluster of its own: docs/lab/applications.md); each talker's speech lies mostly
    under a label of its own, a different one for each. A separator's tracks are WAVs of the
    clip's length and rate, each audible and not the other."""
    out, talkers = clips
    upit = mirnet.load_separator(REPO / "models" / "separators" / "upit")
    service = Service(embedder, upit, None, {}, Limits(long_seconds=5.0))
    r = TestClient(create_app(service), base_url=LOCAL).post(
        "/api/analyze", content=(out / "long.wav").read_bytes()
    )
    assert r.status_code == 200, r.text
    d = r.json()
    speakers, turns = d["diarization"]["speakers"], d["diarization"]["turns"]
    labels = [s["label"] for s in speakers]
    assert labels and sorted({t["speaker"] for t in turns}) == labels  # every lane is a row of the table
    for s in speakers:
        talks = sum(t["end"] - t["start"] for t in turns if t["speaker"] == s["label"])
        assert s["talks_seconds"] == pytest.approx(talks, abs=0.01) and "name" not in s  # no gallery here
    assert len(d["waveform"]) == 800 and max(d["waveform"]) > 0.01 and min(d["waveform"]) >= 0

    truth, samples = _who_talks(corpus, talkers)
    assert d["seconds"] == pytest.approx(samples / SAMPLE_RATE, abs=0.01)
    assert all(0 <= t["start"] < t["end"] <= d["seconds"] for t in turns)
    assert 2 <= len(labels) <= 3, labels
    lanes = {label: np.zeros_like(truth[talkers[0]]) for label in labels}
    for t in turns:
        lanes[t["speaker"]][round(t["start"] * 100) : round(t["end"] * 100)] = True
    speech = truth[talkers[0]] | truth[talkers[1]]
    assert (np.any(list(lanes.values()), axis=0) & speech).sum() >= 0.9 * speech.sum()
    heard = {s: max(labels, key=lambda label: (lanes[label] & truth[s]).sum()) for s in talkers}
    assert heard[talkers[0]] != heard[talkers[1]], heard
    for s, label in heard.items():
        assert (lanes[label] & truth[s]).sum() >= 0.8 * truth[s].sum(), (s, label)
        assert (lanes[label] & truth[s]).sum() >= 0.6 * lanes[label].sum(), (s, label)

    assert len(d["tracks"]) == 2 and all(t.startswith("UklGR") for t in d["tracks"])  # RIFF
    tracks = [sf.read(io.BytesIO(base64.b64decode(t)), dtype="float32") for t in d["tracks"]]
    assert all(rate == SAMPLE_RATE and wav.shape == (samples,) for wav, rate in tracks)
    assert all(np.sqrt(np.mean(wav**2)) > 1e-3 for wav, _ in tracks)
    assert np.abs(tracks[0][0] - tracks[1][0]).max() > 0.01


@pytest.mark.parametrize(
    "body,limits,status,message",
    [
        (b"", {}, 400, "upload: the upload is empty"),
        (b"not audio at all", {}, 415, "upload: not an audio file soundfile can read"),
        ("mix.wav", {"max_bytes": 1000}, 413, "upload: larger than the limit of 0 MB"),
        ("long.wav", {"max_seconds": 5.0}, 413, "s of audio, the limit is 5 s"),
        ("silent.wav", {}, 422, "silent"),
    ],
)
def test_every_bad_upload_gets_its_4xx_and_one_line(
    embedder, clips, body, limits, status, message, tmp_path, monkeypatch
):
    out, _ = clips
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    content = (out / body).read_bytes() if isinstance(body, str) else body
    r = _client(embedder, clips, **limits).post("/api/analyze", content=content)
    assert r.status_code == status and message in r.json()["error"] and "\n" not in r.json()["error"]
    assert list(tmp_path.iterdir()) == []  # the request's temporary folder is gone
    assert _client(embedder, clips).post("/api/analyze?example=nope").status_code == 404


def test_a_full_pool_answers_429_and_the_server_goes_on(embedder, clips):
    out, _ = clips
    client = _client(embedder, clips, workers=1, queue=0)
    service = client.app.state.service
    entered, release = threading.Event(), threading.Event()
    real = service.analyze

    def slow(*args):
        entered.set()
        release.wait(30)
        return real(*args)

    service.analyze = slow
    first = {}
    t = threading.Thread(target=lambda: first.setdefault("r", client.post("/api/analyze?example=mix.wav")))
    t.start()
    assert entered.wait(30)
    busy = client.post("/api/analyze?example=mix.wav")
    release.set()
    t.join(60)
    assert busy.status_code == 429 and "busy" in busy.json()["error"]
    assert first["r"].status_code == 200
    service.analyze = real
    assert client.post("/api/analyze?example=mix.wav").status_code == 200


def test_below_the_threshold_the_page_names_no_one(embedder, clips):
    """The server decides as identify does: with a threshold no score reaches, every identity is
    unknown and keeps its closest name beside it."""
    from mirnet.apps.verification import UNKNOWN, Threshold

    out, speakers = clips
    gallery = Gallery.open(out / "gallery", embedder.fingerprint, embedder.embed_dim)
    service = Service(embedder, None, gallery, {}, Limits(), threshold=Threshold(1e9))
    r = TestClient(create_app(service), base_url=LOCAL).post(
        "/api/analyze", content=(out / "mix.wav").read_bytes()
    )
    identities = r.json()["identities"]
    assert {i["name"] for i in identities} == {UNKNOWN}
    assert sorted(i["closest"] for i in identities) == [f"voice-{s}" for s in speakers]
    info = TestClient(create_app(service), base_url=LOCAL).get("/api/info").json()
    assert info["scoring"] == {"scale": "cosine", "threshold": 1e9}
