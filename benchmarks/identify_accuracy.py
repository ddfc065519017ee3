"""Who is in this clip, measured: every speaker of a corpus is enrolled from a few utterances, then
mixtures of two of them, drawn from the other utterances, are identified against that gallery.
Prints the share of the mixtures' talkers named right, for each system on the very same gallery
utterances and mixtures (a single-embedding system names one talker per clip, at most half).

    python benchmarks/identify_accuracy.py models/mirnet models/mirnet/teacher --data data/corpus/unseen
"""

from __future__ import annotations

import argparse
import json
import tempfile

import mirnet
from mirnet.corpus import open_corpus
from mirnet.corpus.manifest import Manifest
from mirnet.data.mixing import MixingConfig, MixtureDataset


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("systems", nargs="+", help="embedders' experiment dirs")
    p.add_argument("--data", default="data/corpus/unseen")
    p.add_argument("--enroll", type=int, default=3, help="utterances enrolled per speaker")
    p.add_argument("--mixtures", type=int, default=200)
    p.add_argument("--sir", type=float, default=0.0)
    a = p.parse_args()
    manifest = open_corpus(a.data)
    by_speaker: dict[str, list] = {}
    for u in sorted(manifest, key=lambda u: u.id):
        by_speaker.setdefault(u.speaker, []).append(u)
    enrolled = {s: us[: a.enroll] for s, us in by_speaker.items()}
    rest = Manifest([u for us in by_speaker.values() for u in us[a.enroll :]], manifest.source)
    data = MixtureDataset(rest, MixingConfig(2, 3.0, (a.sir, a.sir), (1.0, 1.0)), a.mixtures, seed=7)
    items = [(data[i]["mixture"].numpy(), set(data.spec(i).speakers)) for i in range(a.mixtures)]
    results = {}
    for system in a.systems:
        embedder = mirnet.load(system)
        with tempfile.TemporaryDirectory() as gallery:
            for s, us in enrolled.items():
                mirnet.enroll(embedder, gallery, s, [u.path for u in us])
            right = 0
            for wav, truth in items:
                right += len({m.name for m in mirnet.identify(embedder, wav, gallery)} & truth)
        results[system] = {"talkers_named": round(100 * right / (2 * a.mixtures), 1)}
    print(
        json.dumps({"speakers": len(enrolled), "mixtures": a.mixtures, "sir_db": a.sir, **results}, indent=1)
    )


if __name__ == "__main__":
    main()
