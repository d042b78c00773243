"""Small GLUE-style SST-2 files for tests (the real ones live in $ANN_DATA_DIR/sst2), and
small Penn Treebank and Multi30k files for the masked-LM's extra text."""

import dataclasses
import gzip
import hashlib
import random

from ann.data import sentences
from ann.data.sources import RemoteFile


def write_sst2(folder, n_train=150, n_dev=30):
    """Small GLUE-style train.tsv / dev.tsv in ``folder/sst2``; returns the RemoteFiles that
    accept them (the real names, these files' checksums)."""

    rng = random.Random(0)
    pos, neg = ["good", "great", "gorgeous", "fun", "moving"], ["bad", "dull", "boring", "awful", "bland"]
    nouns = ["film", "movie", "story", "script"]
    files = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        rows = []
        for _ in range(n):
            y = rng.randint(0, 1)
            adj, noun = rng.choice(pos if y else neg), rng.choice(nouns)
            rows.append(f"{rng.choice(['a', 'the', 'what a'])} {adj} {noun} {'.' * rng.randint(0, 1)} \t{y}")
        path = folder / "sst2" / f"{split}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        files[split] = dataclasses.replace(sentences.SST2_FILES[split], sha256=digest)
    return files


def _remote(path):
    return RemoteFile(path.name, hashlib.sha256(path.read_bytes()).hexdigest(),
                      ("https://example.invalid/" + path.name,))


def write_extra_text(folder, monkeypatch):
    """Tiny ``ptb/`` and ``multi30k/`` folders in ``folder`` (two PTB training lines, one with
    ``<unk>``; two English captions per split), patched in as the files those datasets accept."""
    from ann.data import text, translation

    (folder / "ptb").mkdir(parents=True)
    ptb = {}
    for split, name, body in (("train", "ptb.train.txt", " the <unk> film \n a dull film \n"),
                              ("val", "ptb.valid.txt", " a film \n"),
                              ("test", "ptb.test.txt", " the film \n")):
        (folder / "ptb" / name).write_text(body)
        ptb[split] = _remote(folder / "ptb" / name)
    monkeypatch.setattr(text, "PTB_FILES", ptb)
    (folder / "multi30k").mkdir()
    m30k = []
    for stem in ("train", "val", "test_2016_flickr"):
        for lang, line in (("de", "Ein Hund läuft."), ("en", "A witty dog runs.")):
            path = folder / "multi30k" / f"{stem}.{lang}.gz"
            with gzip.open(path, "wt", encoding="utf-8") as f:
                f.write(line + "\n" + line + "\n")
            m30k.append(_remote(path))
    monkeypatch.setattr(translation, "MULTI30K_FILES", m30k)
