"""One progress hook through the house: whatever callable a caller gives is told each long job's
size and each step of it, and a silent one changes nothing of the result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirnet.audio import load_audio
from mirnet.progress import bars, silent
from mirnet.train.trainer import Trainer


class Recorder:
    """A hook of tqdm's shape that keeps what it is told."""

    def __init__(self):
        self.jobs = []

    def __call__(self, iterable=None, **kwargs):
        job = {"kwargs": kwargs, "steps": 0}
        self.jobs.append(job)
        return _Bar(iterable, job)


class _Bar:
    def __init__(self, iterable, job):
        self.iterable, self.job = iterable, job

    def __iter__(self):
        for item in self.iterable:
            self.job["steps"] += 1
            yield item

    def update(self, n=1):
        self.job["steps"] += n

    def set_postfix(self, *_args, **_kwargs):
        pass

    def close(self):
        self.job["closed"] = True


@pytest.fixture(scope="module")
def long_clip(corpus):
    files = sorted((corpus / "unseen").rglob("*.flac"))[:6]
    return torch.from_numpy(np.concatenate([load_audio(f) for f in files])[: 16000 * 7])


def test_a_separator_tells_the_hook_each_chunk_and_gives_the_same_tracks(long_clip):
    import mirnet

    sep = mirnet.load_separator("upit", chunk_seconds=2.0, overlap_seconds=0.5)
    hook = Recorder()
    heard = sep.separate_long(long_clip, progress=hook)
    (job,) = hook.jobs
    assert job["kwargs"]["desc"] == "separating" and job["kwargs"]["unit"] == "chunk"
    assert job["steps"] == 5  # 7 s in 2-s chunks, 0.5 s shared: starts 0, 1.5, 3, 4.5, 5
    assert torch.equal(heard, sep.separate_long(long_clip, progress=silent))


def test_the_trainer_tells_the_hook_each_step_of_each_epoch(tiny_config, tmp_path):
    hook = Recorder()
    trainer = Trainer(tiny_config("train.epochs=2"), tmp_path / "exp", progress=hook)
    trainer.run()
    assert [j["kwargs"]["total"] for j in hook.jobs] == [trainer.steps_per_epoch] * 2
    assert [j["steps"] for j in hook.jobs] == [trainer.steps_per_epoch] * 2
    assert all(j.get("closed") for j in hook.jobs)


def test_bars_draw_on_stderr_and_silent_draws_nothing(capsys):
    list(bars(range(3), desc="counting"))
    assert "counting" in capsys.readouterr().err
    list(silent(range(3), desc="counting", disable=False))
    assert capsys.readouterr().err == ""
