"""A gallery is one file replaced atomically, changed under a lock: concurrent enrolments all land,
each name with its own voice; a kill at either side of the replace leaves the old or the new
gallery, never an unreadable one; the older two-file layout opens and is migrated on its next save;
a malformed gallery is refused in one line that names it and the problem.

The embedder is a stand-in (a fixed seeded vector per voice), so processes start fast and the
test is about the gallery, not the model."""

from __future__ import annotations

import json
import multiprocessing as mp
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mirnet.api import Embedder
from mirnet.apps.verification import Gallery, enroll
from mirnet.audio import SAMPLE_RATE
from mirnet.errors import InputError

DIM, FINGERPRINT, KILLED = 8, "f" * 40, 37


def voice(speaker: int) -> torch.Tensor:
    """The (2 outputs, DIM) embedding of a recording of ``speaker``."""
    return torch.from_numpy(np.random.default_rng(speaker).standard_normal((2, DIM)).astype(np.float32))


def recording(speaker: int) -> np.ndarray:
    return np.full(SAMPLE_RATE, float(speaker), np.float32)


def centroid(*speakers: int) -> torch.Tensor:
    """What a name enrolled from one recording of each of ``speakers`` stands for."""
    return F.normalize(torch.cat([F.normalize(voice(s), dim=-1) for s in speakers]).sum(0), dim=0)


class FakeEmbedder(Embedder):
    """Embeds a waveform as ``voice(its first sample)``; with a barrier, every enrolling process
    waits there until all have embedded, so all of them have read the gallery before any saves
    (on a read-modify-write without a lock, all but one enrolment are lost), and a lock held
    around the embedding would deadlock (the barrier times out) instead of passing."""

    def __init__(self, barrier=None):
        self.source, self.fingerprint, self.embed_dim, self.n_speakers = "fake", FINGERPRINT, DIM, 2
        self.barrier = barrier

    def embed(self, waveform, sample_rate: int = SAMPLE_RATE, min_seconds: float = 0.5) -> torch.Tensor:
        if self.barrier is not None:
            self.barrier.wait(timeout=60)
        return voice(int(waveform[0]))


@pytest.fixture(scope="module")
def ctx():
    """Processes forked from a server that imported mirnet once: fresh (no threads of this one)
    and quick to start."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["mirnet.apps.verification", __name__])
    return ctx


def _enroll_one(gallery, speaker, barrier):
    torch.set_num_threads(1)
    enroll(FakeEmbedder(barrier), gallery, f"name-{speaker}", [recording(speaker)])


def test_concurrent_enrolments_all_land_each_with_its_own_voice(tmp_path, ctx):
    gallery, speakers = tmp_path / "g", [1, 2, 3, 4]
    barrier = ctx.Barrier(len(speakers))
    procs = [ctx.Process(target=_enroll_one, args=(gallery, s, barrier)) for s in speakers]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * len(speakers)
    found = Gallery.open(gallery, FINGERPRINT, DIM)
    assert sorted(found.names) == [f"name-{s}" for s in speakers]
    assert found.embeddings.shape == (2 * len(speakers), DIM)
    for s in speakers:
        name = f"name-{s}"
        assert found.files[name] == ["<waveform>"]
        torch.testing.assert_close(found.centroids()[found.names.index(name)], centroid(s))


def _old_two_file_gallery(path, names_speakers: dict[str, list[int]]) -> None:
    """A gallery as mirnet wrote it before the one-file layout: gallery.npz + gallery.json."""
    path.mkdir(parents=True, exist_ok=True)
    embeddings = [F.normalize(voice(s), dim=-1).numpy() for ss in names_speakers.values() for s in ss]
    owner = [i for i, ss in enumerate(names_speakers.values()) for s in ss for _ in range(2)]
    np.savez(path / "gallery.npz", embeddings=np.concatenate(embeddings), owner=np.array(owner, np.int64))
    meta = {
        "model_fingerprint": FINGERPRINT,
        "model": "fake",
        "embed_dim": DIM,
        "names": list(names_speakers),
        "files": {n: [f"{s}.wav" for s in ss] for n, ss in names_speakers.items()},
    }
    (path / "gallery.json").write_text(json.dumps(meta, indent=1) + "\n")


def _add_b_and_die(gallery, when):
    """Enroll ``b`` into ``gallery`` and die (no cleanup, like kill -9) ``when`` the file replace
    comes: just before it or just after it."""
    real = os.replace

    def replace(src, dst):
        if when == "after":
            real(src, dst)
        os._exit(KILLED)

    os.replace = replace
    found = Gallery.open(gallery, FINGERPRINT, DIM)
    found.enroll("b", voice(2), ["2.wav"])
    found.save()


@pytest.mark.parametrize("layout", ["saved", "two files"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_at_the_replace_leaves_the_old_or_the_new_gallery(tmp_path, ctx, when, layout):
    gallery = tmp_path / "g"
    if layout == "saved":
        first = Gallery(gallery, FINGERPRINT, DIM, "fake")
        first.enroll("a", voice(1), ["1.wav"])
        first.save()
    else:
        _old_two_file_gallery(gallery, {"a": [1]})
    p = ctx.Process(target=_add_b_and_die, args=(gallery, when))
    p.start()
    p.join(120)
    assert p.exitcode == KILLED
    found = Gallery.open(gallery, FINGERPRINT, DIM)  # never "does not match"
    assert found.names == (["a"] if when == "before" else ["a", "b"])
    expected = torch.stack([centroid(1), centroid(2)][: len(found.names)])
    torch.testing.assert_close(found.centroids(), expected)
    # the next save leaves the one file: no dead writer's temporary, no stale gallery.json
    found.enroll("c", voice(3), ["3.wav"])
    found.save()
    assert [p.name for p in gallery.iterdir()] == ["gallery.npz"]
    assert Gallery.open(gallery, FINGERPRINT, DIM).names == found.names


def test_a_two_file_gallery_opens_and_its_next_save_is_one_file(tmp_path):
    gallery = tmp_path / "g"
    _old_two_file_gallery(gallery, {"a": [1, 5], "b": [2]})
    old = Gallery.open(gallery, FINGERPRINT, DIM)
    assert old.names == ["a", "b"] and old.files == {"a": ["1.wav", "5.wav"], "b": ["2.wav"]}
    torch.testing.assert_close(old.centroids(), torch.stack([centroid(1, 5), centroid(2)]))
    enroll(FakeEmbedder(), gallery, "c", [recording(3)])
    assert sorted(p.name for p in gallery.iterdir()) == [".lock", "gallery.npz"]
    with np.load(gallery / "gallery.npz", allow_pickle=False) as z:
        assert json.loads(z["meta"].tobytes())["names"] == ["a", "b", "c"]
    new = Gallery.open(gallery, FINGERPRINT, DIM)
    assert new.names == ["a", "b", "c"] and new.files["a"] == ["1.wav", "5.wav"]
    torch.testing.assert_close(new.centroids(), torch.stack([centroid(1, 5), centroid(2), centroid(3)]))


def _write(path, embeddings, owner, meta, **extra):
    path.mkdir(parents=True, exist_ok=True)
    text = np.frombuffer(meta.encode() if isinstance(meta, str) else json.dumps(meta).encode(), np.uint8)
    np.savez(path / "gallery.npz", **{"embeddings": embeddings, "owner": owner, "meta": text, **extra})


def _meta(**change):
    meta = {"model_fingerprint": FINGERPRINT, "embed_dim": DIM, "names": ["a"], "files": {"a": ["1.wav"]}}
    return {k: v for k, v in {**meta, **change}.items() if v is not None}


EMB, OWNER = F.normalize(voice(1), dim=-1).numpy(), np.zeros(2, np.int64)
MALFORMED = {
    "gallery.json has no 'files'": lambda g: (
        _old_two_file_gallery(g, {"a": [1]}),
        (g / "gallery.json").write_text(json.dumps(_meta(files=None))),
    ),
    "gallery.npz has no 'names'": lambda g: _write(g, EMB, OWNER, _meta(names=None)),
    "gallery.npz has no 'owner'": lambda g: np.savez(g / "gallery.npz", embeddings=EMB),
    "embeddings of shape (2, 9) float32, not (K, 8) float": lambda g: _write(
        g, np.zeros((2, DIM + 1), np.float32), OWNER, _meta()
    ),
    "owner of shape (3,) int64, not (2,) integer": lambda g: _write(g, EMB, np.zeros(3, np.int64), _meta()),
    "owner index 1 out of range for 1 names": lambda g: _write(g, EMB, np.array([0, 1]), _meta()),
    "files are not one list of file names per name": lambda g: _write(g, EMB, OWNER, _meta(files={})),
    "gallery.npz is not JSON": lambda g: _write(g, EMB, OWNER, "{names"),
    "gallery.npz: Object arrays cannot be loaded": lambda g: _write(g, EMB, OWNER, _meta(), x=np.array([{}])),
    "gallery made by model 0000": lambda g: _write(g, EMB, OWNER, _meta(model_fingerprint="0" * 40)),
}


@pytest.mark.parametrize("problem", list(MALFORMED))
def test_a_malformed_gallery_is_refused_in_one_line_naming_it_and_the_problem(tmp_path, problem):
    gallery = tmp_path / "g"
    gallery.mkdir()
    MALFORMED[problem](gallery)
    with pytest.raises(InputError) as err:
        Gallery.open(gallery, FINGERPRINT, DIM)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{gallery}: ") and problem in message, message
