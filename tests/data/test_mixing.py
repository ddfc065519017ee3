"""On-the-fly mixing: seeded, redrawn per epoch, levels and placement as asked."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from scipy.signal import resample_poly

from mirnet.corpus import read_librispeech
from mirnet.corpus.manifest import Manifest, Utterance
from mirnet.data import mixing
from mirnet.data.mixing import (
    UNKNOWN,
    MixingConfig,
    MixtureDataset,
    MixtureSpec,
    draw_mixture,
    mix,
    read_sources,
    speaker_attributes,
    split_utterances,
)


@pytest.fixture(scope="module")
def manifest(corpus):
    return read_librispeech(corpus / "seen")


@pytest.mark.parametrize("n_speakers", [1, 2, 3])
@pytest.mark.parametrize("seconds", [1.0, 3.0])
def test_items_have_distinct_speakers_and_the_crop_length(manifest, n_speakers, seconds):
    data = MixtureDataset(manifest, MixingConfig(n_speakers, seconds), epoch_size=6, seed=1)
    for i in range(len(data)):
        item = data[i]
        assert item["mixture"].shape == (int(seconds * 16000),)
        assert item["sources"].shape == (n_speakers, int(seconds * 16000))
        assert len(set(item["labels"].tolist())) == n_speakers
        np.testing.assert_allclose(item["sources"].sum(0), item["mixture"], atol=1e-5)


def test_same_seed_epoch_index_same_mixture_and_epochs_redraw(manifest):
    a = MixtureDataset(manifest, MixingConfig(), epoch_size=4, seed=3)
    b = MixtureDataset(manifest, MixingConfig(), epoch_size=4, seed=3)
    assert np.array_equal(a[2]["mixture"], b[2]["mixture"])
    first = [a.spec(i) for i in range(4)]
    a.set_epoch(1)
    assert [a.spec(i) for i in range(4)] != first


@pytest.mark.parametrize("sir", [-5.0, 0.0, 5.0])
def test_sir_is_the_level_difference_of_the_sources(manifest, sir):
    spec = draw_mixture(manifest, np.random.default_rng(0), MixingConfig(2, 3.0, (sir, sir)))
    _, sources = mix(read_sources(spec, manifest.index))
    rms = np.sqrt((sources**2).mean(axis=1))
    assert 20 * np.log10(rms[0] / rms[1]) == pytest.approx(sir, abs=0.01)


def test_partial_overlap_places_sources_apart(manifest):
    spec = draw_mixture(manifest, np.random.default_rng(0), MixingConfig(2, 3.0, (0, 0), (0.5, 0.5)))
    sources = read_sources(spec, manifest.index)
    active = 16000 * 3 * 0.75
    assert spec.starts == (0, round(48000 - active))
    assert not sources[0, int(active) + 10 :].any() and not sources[1, : spec.starts[1]].any()


def test_spec_round_trips_through_a_dict(manifest):
    spec = draw_mixture(manifest, np.random.default_rng(5), MixingConfig(3, 2.0))
    assert MixtureSpec.from_dict(spec.to_dict()) == spec


def test_a_bad_file_is_skipped_and_counted(manifest, tmp_path, caplog):
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"not audio at all" * 100)
    utts = list(manifest) + [
        Utterance("bad-1-1", "bad", str(bad), 48000, 16000),
        Utterance("bad-1-2", "bad", str(bad), 48000, 16000),
    ]
    with_bad = Manifest(utts)
    data = MixtureDataset(with_bad, MixingConfig(), epoch_size=30, seed=0)
    items = [data[i] for i in range(30)]
    assert sum(int(it["retries"]) for it in items) > 0 and "bad.flac" in caplog.text
    assert all("bad" not in [with_bad.speakers[label] for label in it["labels"]] for it in items)


def test_heldout_split_is_per_speaker_and_disjoint(manifest):
    train, held = split_utterances(manifest, 0.2, seed=0)
    assert set(held.speakers) == set(manifest.speakers)
    assert not {u.id for u in train} & {u.id for u in held} and len(train) + len(held) == len(manifest)


def test_copies_follow_their_source_and_leave_the_originals_split_alone(manifest):
    """A transformed voice's copy of a held-out utterance must not be trained on, and adding
    copies must not move the originals' split (a continued run keeps its held-out set)."""
    copies = [
        Utterance(
            f"{u.speaker}w1{u.id[len(u.speaker) :]}",
            f"{u.speaker}w1",
            u.path,
            u.num_samples,
            u.sample_rate,
            meta={"derived_from": u.id},
        )
        for u in manifest
    ]
    train, held = split_utterances(manifest, 0.2, seed=0)
    train2, held2 = split_utterances(Manifest([*manifest, *copies]), 0.2, seed=0)
    originals = {u.id for u in manifest}
    assert {u.id for u in held2} & originals == {u.id for u in held}
    assert {u.id for u in train2} & originals == {u.id for u in train}
    held_copies = {u.meta["derived_from"] for u in held2 if u.id not in originals}
    assert held_copies == {u.id for u in held}
    assert len(train2) + len(held2) == 2 * len(manifest)


def test_speed_perturbation_makes_new_speakers_faster_and_higher(tmp_path):
    """A 200 Hz tone at speed 1.1 must come out at 220 Hz, labelled as a speaker of its own."""
    from mirnet.audio import save_audio
    from mirnet.data.mixing import speaker_labels

    t = np.arange(5 * 16000) / 16000
    utts = []
    for spk, f0 in (("a", 200.0), ("b", 330.0)):
        path = save_audio(tmp_path / f"{spk}.flac", 0.3 * np.sin(2 * np.pi * f0 * t))
        utts.append(Utterance(f"{spk}-1-1", spk, str(path), len(t), 16000))
    manifest = Manifest(utts)
    labels = speaker_labels(manifest.speakers, (0.9, 1.0, 1.1))
    assert labels == ["a", "b", "a-sp0.9", "b-sp0.9", "a-sp1.1", "b-sp1.1"]
    cfg = MixingConfig(2, 2.0, (0, 0), speed_perturb=(0.9, 1.0, 1.1))
    data = MixtureDataset(
        manifest, cfg, epoch_size=12, seed=0, speaker_to_label={s: i for i, s in enumerate(labels)}
    )
    seen = set()
    for i in range(12):
        spec, item = data.spec(i), data[i]
        for k in range(2):
            spectrum = np.abs(np.fft.rfft(item["sources"][k].numpy()))
            f0 = {"a": 200.0, "b": 330.0}[spec.speakers[k]] * spec.speed(k)
            assert np.argmax(spectrum) / 2.0 == pytest.approx(f0, abs=1.0)  # 0.5 Hz bins
            assert labels[item["labels"][k]] == spec.labels()[k]
            seen.add(spec.labels()[k])
    assert len(seen) >= 4 and MixtureSpec.from_dict(spec.to_dict()) == spec


def test_unperturbed_specs_keep_their_old_form(manifest):
    spec = draw_mixture(manifest, np.random.default_rng(0), MixingConfig())
    assert spec.speeds == () and spec.labels() == spec.speakers


def test_speed_perturbed_mixtures_are_those_scipy_resample_poly_makes(manifest):
    """The cached-filter resampler must not change a drawn mixture by one bit."""
    index, cfg = manifest.index, MixingConfig(2, 3.0, speed_perturb=(0.9, 1.0, 1.1))
    specs = [draw_mixture(manifest, np.random.default_rng(seed), cfg) for seed in range(6)]
    assert any(speed != 1.0 for spec in specs for speed in spec.speeds)
    designing = lambda wav, up, down: resample_poly(wav, up, down).astype(np.float32)  # noqa: E731
    for spec in specs:
        with mock.patch.object(mixing, "resample", designing):
            want = mix(read_sources(spec, index))
        got = mix(read_sources(spec, index))
        assert all(np.array_equal(g, w) for g, w in zip(got, want))


def test_items_carry_their_speakers_metadata_and_unknown_where_it_is_missing(manifest):
    a, b = manifest.speakers[:2]
    utts = [
        Utterance(u.id, u.speaker, u.path, u.num_samples, u.sample_rate, dict(u.meta))
        for u in manifest
        if u.speaker in (a, b)
    ]
    for u in utts:  # b's gender unknown, and a field that differs within a speaker
        if u.speaker == b:
            del u.meta["gender"]
        u.meta["derived_from"] = u.id
    attributes = speaker_attributes(Manifest(utts))
    assert "derived_from" not in attributes and "engine" in attributes and b not in attributes["gender"]
    data = MixtureDataset(Manifest(utts), MixingConfig(2), 4, seed=0)
    item = data[0]
    order = [data.spec(0).speakers.index(s) for s in (a, b)]
    assert item["meta.gender"][order[1]] == UNKNOWN and item["meta.gender"][order[0]] != UNKNOWN
    language = {s: manifest.by_speaker[s][0].meta["language"] for s in (a, b)}
    codes = attributes["language"]
    assert (codes[a] == codes[b]) == (language[a] == language[b])
