"""On-the-fly mixing: seeded, redrawn per epoch, levels and placement as asked."""

from __future__ import annotations

import json
from dataclasses import replace
from unittest import mock

import numpy as np
import pytest
from scipy.signal import correlate, resample_poly

from mirnet.cli import main
from mirnet.corpus import read_librispeech
from mirnet.corpus.manifest import Manifest, Utterance
from mirnet.data import mixing
from mirnet.data.mixing import (
    NYQUIST,
    UNKNOWN,
    MixingConfig,
    MixtureDataset,
    MixtureSpec,
    draw_mixture,
    lowpass,
    mix,
    read_crop,
    read_sources,
    speaker_attributes,
    split_utterances,
)
from mirnet.errors import ConfigError
from mirnet.train.build import build_data
from mirnet.train.experiment import load_experiment

from ..conftest import TINY_MODEL


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


# -- data.train_weights: each mixture's speakers from one corpus, drawn by weight


@pytest.fixture(scope="module")
def two_corpora(manifest, tmp_path_factory) -> list[tuple[str, list[str]]]:
    """The test corpus's seen speakers as two corpora, 3 and the rest (2), each a manifest:
    (path, speakers)."""
    out, speakers = tmp_path_factory.mktemp("two-corpora"), manifest.speakers
    parts = []
    for name, some in (("synthesized", speakers[:3]), ("recorded", speakers[3:])):
        path = Manifest(u for u in manifest if u.speaker in some).save(out / f"{name}.jsonl")
        parts.append((str(path), some))
    return parts


def run_data(two_corpora, *overrides: str):
    return build_data(
        load_experiment(
            None,
            [
                f"data.train={json.dumps([path for path, _ in two_corpora])}",
                "data.epoch_size=400",
                "data.val_size=100",
                "data.batch_size=4",
                *overrides,
            ],
        )
    )


def corpus_of(spec: MixtureSpec, two_corpora) -> list[int]:
    """The corpora the mixture's speakers come from."""
    return sorted({k for s in spec.speakers for k, (_, some) in enumerate(two_corpora) if s in some})


def test_train_weights_draw_a_corpus_then_all_its_speakers(two_corpora):
    uniform = run_data(two_corpora)
    assert any(len(corpus_of(uniform.train.spec(i), two_corpora)) == 2 for i in range(100))
    only_second = run_data(two_corpora, "data.train_weights=[0, 1]")
    for data in (only_second.train, only_second.val):
        assert all(corpus_of(data.spec(i), two_corpora) == [1] for i in range(len(data)))
    weighted = run_data(two_corpora, "data.train_weights=[0.3, 0.7]")
    for data in (weighted.train, weighted.val):
        drawn = [corpus_of(data.spec(i), two_corpora) for i in range(len(data))]
        assert all(len(c) == 1 for c in drawn)  # never a mixture of both
        assert 0.6 < sum(c == [1] for c in drawn) / len(drawn) < 0.8
    again = run_data(two_corpora, "data.train_weights=[0.3, 0.7]")
    assert [again.train.spec(i) for i in range(50)] == [weighted.train.spec(i) for i in range(50)]
    assert [again.val.spec(i) for i in range(50)] == [weighted.val.spec(i) for i in range(50)]


def test_a_weighted_corpus_too_small_to_mix_stops_at_start_up(two_corpora):
    with pytest.raises(ConfigError, match=r"data.train_weights: \S*recorded.jsonl has weight 1.0 but 2"):
        run_data(two_corpora, "data.train_weights=[0, 1]", "data.n_speakers=3")
    run_data(two_corpora, "data.train_weights=[1, 0]", "data.n_speakers=3")  # a weight of 0 is never drawn


def test_with_the_levers_off_specs_are_drawn_as_before(manifest):
    """No new key in a spec's dict (trial lists stay byte for byte the same), no extra draw, and
    band-limiting, drawn last, leaves every other value of a spec as it was."""
    cfg = MixingConfig(speed_perturb=(0.9, 1.0, 1.1))
    data = MixtureDataset(manifest, cfg, 20, seed=4)
    banded = MixtureDataset(manifest, replace(cfg, lowpass=0.5), 20, seed=4)
    keys = ["utterances", "speakers", "offsets", "gains_db", "starts", "samples", "speeds"]
    for i in range(20):
        spec = data.spec(i)
        assert spec == draw_mixture(manifest, np.random.default_rng([4, 0, i, 0]), cfg)
        assert list(spec.to_dict()) == keys and spec.cutoffs == ()
        assert replace(banded.spec(i), cutoffs=()) == spec
    assert any(c < NYQUIST for i in range(20) for c in banded.spec(i).cutoffs)


# -- data.lowpass: band-limited sources


def band(wav: np.ndarray, low: float, high: float) -> float:
    """Energy between low and high Hz, through a Hann window (no leakage from the crop's edges)."""
    power = np.abs(np.fft.rfft(wav * np.hanning(len(wav)))) ** 2
    f = np.fft.rfftfreq(len(wav), 1 / 16000)
    return float(power[(f >= low) & (f < high)].sum())


def test_lowpass_removes_the_band_above_its_cutoff_keeps_the_band_below_and_the_timing(manifest):
    for utt in manifest.utterances[::9]:
        wav = read_crop(utt, 0, 48000)
        out = lowpass(wav, 4000.0)
        assert out.dtype == np.float32 and out.shape == wav.shape
        assert band(wav, 4500, 8001) > 1e-3 * band(wav, 0, 8001)  # there is something to remove
        assert band(out, 4500, 8001) < 1e-6 * band(wav, 4500, 8001)
        assert band(out, 0, 3500) == pytest.approx(band(wav, 0, 3500), rel=1e-3)
        assert np.argmax(correlate(out, wav)) == len(wav) - 1  # zero phase: no lag
    assert lowpass(wav, NYQUIST) is wav


def test_a_band_limited_source_is_one_signal_in_target_and_mixture_at_its_level(manifest):
    cfg = MixingConfig(2, 3.0, (3.0, 3.0), lowpass=1.0, lowpass_hz=(4000.0, 4000.0))
    data = MixtureDataset(manifest, cfg, 4, seed=0)
    full = MixtureDataset(manifest, replace(cfg, lowpass=0.0), 4, seed=0)
    for i in range(4):
        assert data.spec(i).cutoffs == (4000.0, 4000.0)
        item, before = data[i], full[i]
        sources, mixture = item["sources"].numpy(), item["mixture"].numpy()
        np.testing.assert_allclose(sources.sum(0), mixture, atol=1e-5)
        for signal, unlimited in zip(
            [*sources, mixture], [*before["sources"].numpy(), before["mixture"].numpy()]
        ):
            assert band(signal, 4500, 8001) < 1e-6 * band(unlimited, 4500, 8001)
        rms = np.sqrt((sources**2).mean(axis=1))
        assert 20 * np.log10(rms[0] / rms[1]) == pytest.approx(3.0, abs=0.01)  # the SIR holds


def test_a_cutoff_at_nyquist_and_an_old_spec_render_bit_identical(manifest):
    index = manifest.index
    spec = draw_mixture(manifest, np.random.default_rng(2), MixingConfig())
    old = {k: v for k, v in spec.to_dict().items()}  # a trial list written before cutoffs existed
    assert "cutoffs" not in old and MixtureSpec.from_dict(old) == spec
    want = read_sources(spec, index)
    at_nyquist = replace(spec, cutoffs=(NYQUIST, NYQUIST))
    assert np.array_equal(read_sources(at_nyquist, index), want)
    assert np.array_equal(read_sources(MixtureSpec.from_dict(old), index), want)
    one = replace(spec, cutoffs=(4000.0, NYQUIST))
    assert MixtureSpec.from_dict(one.to_dict()) == one
    got = read_sources(one, index)
    assert np.array_equal(got[1], want[1]) and not np.array_equal(got[0], want[0])
    off = MixtureDataset(manifest, MixingConfig(lowpass=1.0, lowpass_hz=(8000.0, 8000.0)), 3, seed=1)
    plain = MixtureDataset(manifest, MixingConfig(), 3, seed=1)
    for i in range(3):
        assert all(np.array_equal(off[i][k], plain[i][k]) for k in ("mixture", "sources"))


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "data.train_weights=[1, 1]",
            "data.train_weights: expected one weight >= 0 per data.train entry (1)",
        ),
        ("data.train_weights=[0]", "at least one > 0, got [0.0]"),
        ("data.train_weights=[-1]", "data.train_weights[0]: expected a number >= 0, got -1.0"),
        ("data.train_weights=[.nan]", "data.train_weights[0]: expected a finite number"),
        ("data.lowpass=1.5", "data.lowpass: expected a number <= 1, got 1.5"),
        ("data.lowpass_hz=[500, 4000]", "data.lowpass_hz[0]: expected a number >= 1000, got 500.0"),
        ("data.lowpass_hz=[4000, 9000]", "data.lowpass_hz[1]: expected a number <= 8000, got 9000.0"),
        ("data.lowpass_hz=[6000, 4000]", "data.lowpass_hz: expected [low, high] with low <= high"),
        ("data.lowpass_hz=4000", "data.lowpass_hz: expected a list of 2 values, got 4000"),
    ],
)
def test_bad_lever_values_are_one_line_config_errors(override, message):
    with pytest.raises(ConfigError) as err:
        load_experiment(None, [override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_train_check_accepts_both_levers(two_corpora, tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    data = {"epoch_size": 8, "val_size": 4, "batch_size": 4, "workers": 0, "crop_seconds": 1.0}
    data |= {"train": [path for path, _ in two_corpora], "train_weights": [0.3, 0.7], "lowpass": 0.5}
    config.write_text(json.dumps({"data": data, "model": {"name": "mirnet", "args": TINY_MODEL}}))
    assert main(["-q", "train", str(config), str(tmp_path / "exp"), "--check", "train.threads=1"]) == 0
    assert "2 steps of 4 mixtures per epoch" in capsys.readouterr().out
