"""The mixture verification protocol of paper section 4.1.2 on real synthesized audio."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirnet.corpus import read_librispeech
from mirnet.data.mixing import MixingConfig
from mirnet.eval.protocol import condition_specs, trial_scores, trial_speakers
from mirnet.eval.trials import load_trials, make_trials, save_trials, trial_list_sha1


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
    assert back == trials and meta == {"seed": 2} and sha == sha2 == trial_list_sha1(tmp_path / "t.json")
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="bad.json: not a mirnet trial list"):
        load_trials(tmp_path / "bad.json")


class OracleEmbedder:
    """Knows which utterance each sample came from by matching the rendered audio: a perfect
    identity extractor, so the protocol must give 0% EER; and a blind one must give ~50%.
    Every clip gets as many outputs as the condition's largest mixture (a one-source clip
    repeats its identity), as a real N-output model would. ``shuffle``: each clip gets the
    identities of another clip of the same condition, so it carries no information."""

    def __init__(self, manifest, trials, condition, shuffle=False):
        from mirnet.data.mixing import mix, read_sources

        index = manifest.index
        speakers = manifest.speakers
        specs = condition_specs(trials, condition)
        n = max(len(spec.speakers) for spec in specs)
        identities = [torch.eye(len(speakers))[[speakers.index(s) for s in spec.speakers]] for spec in specs]
        identities = [rows[torch.arange(n) % len(rows)] for rows in identities]
        if shuffle:
            identities = [identities[i] for i in np.random.default_rng(0).permutation(len(identities))]
        self.table = {
            mix(read_sources(spec, index))[0].tobytes(): rows for spec, rows in zip(specs, identities)
        }

    def __call__(self, wavs):
        return torch.stack([self.table[w.numpy().tobytes()] for w in wavs])


@pytest.mark.parametrize("condition", ["mixture", "clean", "enrolled"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_perfect_identities_give_zero_eer_and_random_ones_chance(manifest, condition, metric):
    from mirnet.eval.protocol import summarize

    trials = make_trials(manifest, 20, MixingConfig(2, 1.0, (0, 0)), seed=3)
    scores, labels = trial_scores(
        OracleEmbedder(manifest, trials, condition),
        trials,
        manifest,
        metric=metric,
        condition=condition,
        batch_size=7,
    )
    assert scores.shape == (40,) and labels.sum() == 20
    assert summarize(scores, labels, n_boot=50)["eer"] == 0.0
    g = torch.Generator().manual_seed(0)
    scores, labels = trial_scores(
        lambda w: torch.randn(len(w), 2, 8, generator=g), trials, manifest, metric=metric, condition=condition
    )
    assert 20 <= summarize(scores, labels, n_boot=50)["eer"] <= 80
    scores, labels = trial_scores(
        OracleEmbedder(manifest, trials, condition, shuffle=True),
        trials,
        manifest,
        metric=metric,
        condition=condition,
    )
    assert 20 <= summarize(scores, labels, n_boot=50)["eer"] <= 80
    assert trial_speakers(trials) == len(manifest.speakers)


def test_enrolled_condition_scores_the_mixture_against_clean_target_and_nontarget(manifest):
    """A+B against A' alone (target) and C' alone (non-target); a one-output embedder is scored
    by its single distance (min over one pair)."""
    trials = make_trials(manifest, 6, MixingConfig(2, 1.0, (0, 0)), seed=4)
    specs = condition_specs(trials, "enrolled")
    for t, (anchor, target, nontarget) in zip(trials, zip(specs[0::3], specs[1::3], specs[2::3])):
        assert anchor == t.anchor
        assert target.utterances == t.positive.utterances[:1] and target.speakers == (t.anchor.speakers[0],)
        assert (
            nontarget.utterances == t.negative.utterances[:1]
            and nontarget.speakers[0] not in t.anchor.speakers
        )
    oracle = OracleEmbedder(manifest, trials, "enrolled")
    first_only = lambda w: oracle(w)[:, :1]  # noqa: E731 - the anchor's first source, so every trial is right
    scores, labels = trial_scores(first_only, trials, manifest, condition="enrolled")
    assert (scores[labels == 1] == 0).all() and (scores[labels == 0] == -1).all()
    with pytest.raises(
        ValueError, match="condition must be one of mixture, clean, enrolled, separated, cascade, got 'bogus'"
    ):
        condition_specs(trials, "bogus")


def test_separated_condition_embeds_every_source_alone(manifest):
    """The oracle-separation bound: a one-output identity extractor that only ever sees single
    sources (it fails on anything else) is perfect once each clip's sources are pooled."""
    from mirnet.data.mixing import mix, read_sources
    from mirnet.eval.protocol import source_spec, summarize

    trials = make_trials(manifest, 12, MixingConfig(2, 1.0, (-3, -3)), seed=5)
    second = source_spec(trials[0].anchor, 1)
    assert (
        second.speakers == trials[0].anchor.speakers[1:]
        and second.gains_db == (0.0,)
        and second.starts == (0,)
    )
    index, speakers = manifest.index, manifest.speakers
    table = {
        mix(read_sources(source_spec(spec, i), index))[0].tobytes(): torch.eye(len(speakers))[
            [speakers.index(s)]
        ]
        for t in trials
        for spec in (t.anchor, t.positive, t.negative)
        for i, s in enumerate(spec.speakers)
    }
    scores, labels = trial_scores(
        lambda w: torch.stack([table[x.numpy().tobytes()] for x in w]),
        trials,
        manifest,
        condition="separated",
        batch_size=5,
    )
    assert scores.shape == (24,) and summarize(scores, labels, n_boot=20)["eer"] == 0.0


def test_cascade_condition_embeds_every_output_of_the_separator(manifest):
    """Separate, then embed: behind a separator that returns each mixture's true sources (in
    reversed order), a one-output identity extractor that knows only single sources is perfect."""
    from mirnet.data.mixing import mix, read_sources
    from mirnet.eval.protocol import cascade_embed, summarize

    trials = make_trials(manifest, 12, MixingConfig(2, 1.0, (-3, -3)), seed=6)
    assert condition_specs(trials, "cascade") == condition_specs(trials, "mixture")
    index, speakers = manifest.index, manifest.speakers
    rendered = [mix(read_sources(spec, index)) for t in trials for spec in (t.anchor, t.positive, t.negative)]
    specs = [spec for t in trials for spec in (t.anchor, t.positive, t.negative)]
    separated = {m.tobytes(): torch.from_numpy(src[::-1].copy()) for m, src in rendered}
    identity = {
        s.tobytes(): torch.eye(len(speakers))[[speakers.index(who)]]
        for (_, src), spec in zip(rendered, specs)
        for s, who in zip(src, spec.speakers)
    }
    separate = lambda w: torch.stack([separated[x.numpy().tobytes()] for x in w])  # noqa: E731
    embed = lambda w: torch.stack([identity[x.numpy().tobytes()] for x in w])  # noqa: E731
    scores, labels = trial_scores(
        cascade_embed(separate, embed), trials, manifest, condition="cascade", batch_size=5
    )
    assert scores.shape == (24,) and summarize(scores, labels, n_boot=20)["eer"] == 0.0
    assert cascade_embed(separate, embed)(torch.from_numpy(rendered[0][0])[None]).shape == (
        1,
        2,
        len(speakers),
    )
