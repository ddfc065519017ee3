"""``mirnet prepare`` for every corpus: resuming from a stopped run's partial results, skipping
unreadable files with one warning, and the command line end to end (exit 0, or 2 with one line)."""

from __future__ import annotations

import pytest

from mirnet.audio import audio_info
from mirnet.cli import main
from mirnet.corpus import PREPARERS, load_mixtures, open_corpus
from mirnet.corpus.prepare import partial_path

# per corpus: its tree fixture, options, a file whose damage costs one item, how many items
CASES = {
    "librispeech": (
        "librispeech_root",
        {"subsets": ["train-clean-100", "dev-clean"]},
        "dev-clean/1272/128104/1272-128104-0000.flac",
        4,
    ),
    "voxceleb": ("voxceleb_root", {}, "id10271/1gtz-CUIygI/00001.wav", 3),
    "wsj0-2mix": ("wsj_root", {}, "wav8k/min/tr/s2/01aa010b_0.97482_209a010p_-0.97482.wav", 3),
    "libri2mix": (
        "libri2mix_root",
        {},
        "Libri2Mix/wav16k/min/dev/mix_clean/1272-128104-0000_2035-147961-0014.wav",
        3,
    ),
}


def _read(name, out):
    return load_mixtures(out) if name in ("wsj0-2mix", "libri2mix") else list(open_corpus(out))


@pytest.mark.parametrize("name", CASES)
def test_unreadable_file_is_skipped_with_one_warning_and_counted(name, request, tmp_path, caplog):
    fixture, options, damaged, n = CASES[name]
    root = request.getfixturevalue(fixture)
    (root / damaged).write_bytes(b"RIFF\x00garbage" * 10)
    done = PREPARERS[name](root, tmp_path / "m.jsonl", jobs=2, **options)
    assert done.skipped == 1 and done.items == n - 1 == len(_read(name, done.out))
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(root.resolve() / damaged) in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage() and "Traceback" not in caplog.text


@pytest.mark.parametrize("name", CASES)
def test_a_stopped_run_resumes_from_its_partial_results(name, request, tmp_path, monkeypatch):
    fixture, options, _, n = CASES[name]
    root = request.getfixturevalue(fixture)
    out = tmp_path / "m.jsonl"
    calls = []

    def probe(path, stop_after=None):
        if stop_after is not None and len(calls) == stop_after:
            raise KeyboardInterrupt  # Ctrl-C half-way
        calls.append(path)
        return audio_info(path)

    monkeypatch.setattr("mirnet.corpus.prepare.audio_info", lambda p: probe(p, stop_after=2))
    with pytest.raises(KeyboardInterrupt):
        PREPARERS[name](root, out, jobs=1, **options)
    assert not out.exists() and len(partial_path(out).read_text().splitlines()) == 2
    first = list(calls)
    calls.clear()
    monkeypatch.setattr("mirnet.corpus.prepare.audio_info", probe)
    done = PREPARERS[name](root, out, jobs=1, **options)
    assert done.items == n and not partial_path(out).exists()
    assert not set(first) & set(calls)  # nothing probed twice
    again = PREPARERS[name](root, tmp_path / "fresh.jsonl", jobs=1, **options)  # uninterrupted: same manifest
    assert _read(name, again.out) == _read(name, out)


@pytest.mark.parametrize(
    "name, args",
    [
        ("librispeech", ["--subsets", "train-clean-100,train-clean-360"]),
        ("voxceleb", ["--trials", "{root}/../veri_test2.txt"]),
        ("wsj0-2mix", ["--rate", "8k", "--splits", "tt"]),
        ("libri2mix", ["--splits", "train-100"]),
    ],
)
def test_cli_end_to_end(name, args, request, tmp_path, capsys):
    root = request.getfixturevalue(CASES[name][0])
    out = tmp_path / "m.jsonl"
    assert (
        main(
            [
                "-q",
                "prepare",
                name,
                str(root),
                "--out",
                str(out),
                "--jobs",
                "2",
                *(a.format(root=root) for a in args),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith(f"{out}: ") and "0 unreadable file(s) skipped" in printed and out.is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["librispeech", "{tmp}/nowhere"], "nowhere: not a directory"),
        (["voxceleb", "{tmp}"], "no VoxCeleb-layout audio"),
        (["wsj0-2mix", "{tmp}"], "wav8k/min/tr/mix: no mixtures"),
        (["libri2mix", "{tmp}"], "no Libri2Mix metadata mixture_<split>_mix_clean.csv"),
        (["wsj0-2mix", "{tmp}", "--jobs", "0"], "--jobs must be at least 1"),
    ],
)
def test_cli_errors_are_one_line_with_exit_status_2(args, message, tmp_path, capsys):
    argv = ["-q", "prepare", *(a.format(tmp=tmp_path) for a in args), "--out", str(tmp_path / "m.jsonl")]
    if "--jobs" in args:  # needs a tree that gets as far as probing
        (tmp_path / "wav8k/min/tr/mix").mkdir(parents=True)
        (tmp_path / "wav8k/min/tr/mix/a01c_0_b02d_0.wav").write_bytes(b"")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("mirnet: error: ")
