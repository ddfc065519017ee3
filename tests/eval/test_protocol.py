"""The mixture verification protocol of paper section 4.1.2 on real synthesized audio."""
from __future__ import annotations

import pytest
import torch

from mirnet.corpus import read_librispeech
from mirnet.data.mixing import MixingConfig
from mirnet.eval.protocol import trial_scores, trial_speakers
from mirnet.eval.trials import load_trials, make_trials, save_trials


@pytest.fixture(scope="module")
def manifest(corpus):
    return read_librispeech(corpus / "seen")


@pytest.mark.parametrize("n", [1, 2])
def test_trials_share_exactly_the_anchor_speaker(manifest, n):
    trials = make_trials(manifest, 30, MixingConfig(n, 2.0, (0, 0)), seed=1)
    for t in trials:
        a, p, neg = (set(x.speakers) for x in (t.anchor, t.positive, t.negative))
        assert len(a) == len(p) == len(neg) == n
        assert a & p == {t.anchor.speakers[0]} and not a & neg
        assert t.positive.utterances[0] != t.anchor.utterances[0]  # A' is another utterance of A
        if n > 1:
            assert t.negative.speakers[0] == t.positive.speakers[1]  # C' ...
            assert t.negative.utterances[0] != t.positive.utterances[1]  # ... another utterance of C


def test_three_speaker_trials_need_seven_speakers(manifest):
    with pytest.raises(ValueError, match="at least 7"):
        make_trials(manifest, 3, MixingConfig(3, 2.0))


def test_trial_list_round_trips_with_checksum(manifest, tmp_path):
    trials = make_trials(manifest, 5, MixingConfig(), seed=2)
    sha = save_trials(trials, tmp_path / "t.json", {"seed": 2})
    back, meta, sha2 = load_trials(tmp_path / "t.json")
    assert back == trials and meta == {"seed": 2} and sha == sha2
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="bad.json: not a mirnet trial list"):
        load_trials(tmp_path / "bad.json")


class OracleEmbedder:
    """Knows which utterance each sample came from by matching the rendered audio: a perfect
    identity extractor, so the protocol must give 0% EER; and a blind one must give ~50%."""

    def __init__(self, manifest, trials, condition):
        from mirnet.data.mixing import mix, read_sources
        from mirnet.eval.protocol import clean_spec

        index = {u.id: u for u in manifest}
        speakers = manifest.speakers
        self.table = {}
        for t in trials:
            for spec in (t.anchor, t.positive, t.negative):
                spec = clean_spec(spec) if condition == "clean" else spec
                wav = mix(read_sources(spec, index))[0]
                onehots = torch.eye(len(speakers))[[speakers.index(s) for s in spec.speakers]]
                self.table[wav.tobytes()] = onehots

    def __call__(self, wavs):
        return torch.stack([self.table[w.numpy().tobytes()] for w in wavs])


@pytest.mark.parametrize("condition", ["mixture", "clean"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_perfect_identities_give_zero_eer_and_random_ones_chance(manifest, condition, metric):
    from mirnet.eval.protocol import summarize

    trials = make_trials(manifest, 20, MixingConfig(2, 1.0, (0, 0)), seed=3)
    scores, labels = trial_scores(OracleEmbedder(manifest, trials, condition), trials, manifest,
                                  metric=metric, condition=condition, batch_size=7)
    assert scores.shape == (40,) and labels.sum() == 20
    assert summarize(scores, labels, n_boot=50)["eer"] == 0.0
    g = torch.Generator().manual_seed(0)
    scores, labels = trial_scores(lambda w: torch.randn(len(w), 2, 8, generator=g), trials, manifest, metric=metric)
    assert 20 <= summarize(scores, labels, n_boot=50)["eer"] <= 80
    assert trial_speakers(trials) == len(manifest.speakers)
