"""Train/test assignment: the one place that decides which MNLU-Instruct split an item of a corpus goes to.

MNLU-Instruct has two splits, train and test. The policy, the same for every converter:

- a corpus's distributed **train** split goes to train;
- its **development/validation** split (dev, devel, development, val, valid, validation, dev_matched, ...) goes
  to **train** as well: it is labelled data the corpus authors meant for model building, and MNLU-Instruct
  trains on everything that is not test;
- its **test** split goes to test exactly as distributed, never cut and never mixed with train, so the test
  sets that double as evaluation sets (BLURB/BLUE-like) stay clean. An unlabelled test split (GLUE STS-B
  `test.tsv`, NLI4CT `test.json`, DrugProt `test_background`) is not converted. A corpus whose only
  distributed splits are dev/validation therefore has no test split (STS-B's GLUE layout, the SNLI/MultiNLI
  dev samples), and one whose train split is tiny stays that way (ClinicalIE: 5 validation snippets train,
  100 test snippets test);
- a corpus without a distributed split gets a **seeded** split: a hash of (seed, document id), so all items
  of one document land together and the assignment does not depend on file order, on which other documents
  are present, or on the process that reads it. GENIA, distributed as one ordered file, keeps the usual
  "first 90% of articles train" (`leading_split`).

Converters name the split of a file with `split_of_name` and never decide dev/test themselves; a distribution
whose file names carry no split word (the i2b2/n2c2 archives) lists its files per split with `TRAIN`/`TEST`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from pathlib import Path

from mnlu.formats.errors import FormatError

TRAIN, TEST = "train", "test"
SPLITS = (TRAIN, TEST)
DEFAULT_TEST_FRACTION = 0.1

_TRAIN = re.compile(r"train")
_TEST = re.compile(r"test|gold")  # a gold standard release is the test set (`gold_test.json`)
_DEV = re.compile(r"dev|valid|(?<![a-z])val(?![a-z])")  # dev, devel, development, dev_matched, val, validation


def split_of_name(name: str) -> str | None:
    """`train` / `test` for a distributed split's name (a file stem or folder name such as `train.tsv`,
    `dev_matched`, `Pmidlist.Test`, `clinicalnlp_taskB_test1`), following the policy above: dev/validation
    names give train. None when the name says no split at all (the caller reports or skips the file)."""
    return (TRAIN, TRAIN, TEST, None)[split_rank(name)]


def split_of_file(path: str | Path, report: Callable[[FormatError], None], name: str | None = None) -> str | None:
    """`split_of_name` of a file's stem (or of `name`); a file whose name says no split is reported (a bad
    record naming the file) and gets None, so the caller skips it rather than guess."""
    split = split_of_name(Path(path).stem if name is None else name)
    if split is None:
        report(FormatError(path, "cannot tell the split from the file name (expected train, dev/validation or test "
                                 "in it)"))
    return split


def split_rank(name: str) -> int:
    """0 for a train name, 1 for dev/validation, 2 for test, 3 for none: the order in which a converter reads a
    corpus's files, so the corpus's own train rows come before its dev rows (a mixture fraction keeps the
    *first* rows of the train split, which should be the distributed train split's)."""
    lowered = name.lower()
    if _TRAIN.search(lowered):
        return 0
    if _TEST.search(lowered):
        return 2
    return 1 if _DEV.search(lowered) else 3


def seeded_split(key: str, seed: int, test_fraction: float = DEFAULT_TEST_FRACTION) -> str:
    """Deterministic split of one document by a hash of (seed, key), for corpora without a distributed split."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return TEST if u < test_fraction else TRAIN


def leading_split(index: int, total: int, train_fraction: float = 0.9) -> str:
    """Train for the first ceil(train_fraction × total) documents of an ordered, unsplit corpus, else test."""
    return TRAIN if index < math.ceil(train_fraction * total) else TEST
