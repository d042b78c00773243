"""Small GLUE-style SST-2 files for tests (the real ones live in $ANN_DATA_DIR/sst2)."""

import dataclasses
import hashlib
import random

from ann.data import sentences


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
