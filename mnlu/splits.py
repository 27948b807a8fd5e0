"""Train/test assignment: the corpus's own split where it has one, a seeded split where it has none.

MNLU-Instruct has two splits, train and test. A distributed development/validation split is held-out data,
so it goes to test together with the official test split; an unlabelled test split is not converted.
A seeded split hashes (seed, key) so the assignment of a document does not depend on file order, on which
other documents are present, or on the process that reads it; the key is a document id, so all items made
from one document land in the same split.
"""

from __future__ import annotations

import hashlib

TRAIN, TEST = "train", "test"
SPLITS = (TRAIN, TEST)
DEFAULT_TEST_FRACTION = 0.1

_HELD_OUT = ("dev", "devel", "development", "val", "valid", "validation", "test", "gold")


def split_of_name(name: str) -> str | None:
    """`train` / `test` for a distributed split name such as `train.tsv`, `dev_matched`, `validation`;
    None when the name says neither."""
    lowered = name.lower()
    if "train" in lowered:
        return TRAIN
    if any(tag in lowered for tag in _HELD_OUT):
        return TEST
    return None


def seeded_split(key: str, seed: int, test_fraction: float = DEFAULT_TEST_FRACTION) -> str:
    """Deterministic split of one document by a hash of (seed, key)."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return TEST if u < test_fraction else TRAIN
