"""The one split policy (mnlu.splits): train → train, dev/validation → train, test → test, else seeded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mnlu.splits import TEST, TRAIN, leading_split, seeded_split, split_of_file, split_of_name, split_rank

# file stems and folder names as the corpora distribute them (FORMATS.md), with the split each must give
DISTRIBUTED = {
    # train
    "train": TRAIN, "snli_1.0_train": TRAIN, "Train": TRAIN, "PICO_train": TRAIN, "BC2GNtrain": TRAIN,
    "tmVar3_Train": TRAIN, "Pmidlist.Train": TRAIN, "drugprot_training": TRAIN, "training_data": TRAIN,
    # development / validation → train
    "dev": TRAIN, "devel": TRAIN, "Dev": TRAIN, "multinli_1.0_dev_matched": TRAIN,
    "multinli_1.0_dev_mismatched": TRAIN, "drugprot_development": TRAIN, "val": TRAIN, "valid": TRAIN,
    "validation": TRAIN, "validation_title_DOI": TRAIN, "validation-00000-of-00001": TRAIN,
    # test, as distributed
    "test": TEST, "Test": TEST, "snli_1.0_test": TEST, "gold_test": TEST, "acl17-test": TEST, "BC2GNtest": TEST,
    "GNormPlus_Test": TEST, "clinicalnlp_taskB_test1": TEST, "clef_taskC_test3": TEST,
    # no split in the name
    "NLMIAT": None, "mtsamples": None, "data": None, "interval": None, "medication_attr": None,
}


@pytest.mark.parametrize(("name", "split"), sorted(DISTRIBUTED.items()))
def test_distributed_names(name, split):
    assert split_of_name(name) == split


def test_a_file_without_a_split_name_is_reported_not_guessed(tmp_path):
    errors = []
    assert split_of_file(tmp_path / "BioRED" / "Dev.PubTator", errors.append) == TRAIN
    assert split_of_file(tmp_path / "x_title_DOI.csv", errors.append, "validation") == TRAIN
    assert split_of_file(tmp_path / "extra.PubTator", errors.append) is None
    (error,) = errors
    assert error.path == str(tmp_path / "extra.PubTator") and "cannot tell the split" in error.reason


def test_train_files_are_read_before_dev_files():
    names = ["multinli_1.0_dev_mismatched", "multinli_1.0_train", "multinli_1.0_dev_matched", "x_test", "notes"]
    assert sorted(names, key=lambda n: (split_rank(n), n)) == [
        "multinli_1.0_train", "multinli_1.0_dev_matched", "multinli_1.0_dev_mismatched", "x_test", "notes"]


def test_seeded_split_is_deterministic_keyed_and_about_ten_percent():
    splits = [seeded_split(f"doc{i}", 42) for i in range(4000)]
    assert splits == [seeded_split(f"doc{i}", 42) for i in range(4000)]
    assert splits != [seeded_split(f"doc{i}", 7) for i in range(4000)]
    assert 0.08 < splits.count(TEST) / len(splits) < 0.12


def test_leading_split():
    assert [leading_split(i, 50) for i in range(50)] == [TRAIN] * 45 + [TEST] * 5
    assert [leading_split(i, 3) for i in range(3)] == [TRAIN] * 3  # ceil(2.7): the test part may be empty


def test_no_converter_decides_train_or_test_from_a_name_itself():
    """A split word turned into a split anywhere but mnlu.splits would bring back a second policy."""
    corpora = Path(__file__).resolve().parents[2] / "mnlu" / "corpora"
    own_rule = re.compile(r'"(train|test)" if\b|\belse "(train|test)"|"(dev|val)[\w.]*": "(train|test)"')
    offenders = [f"{p.name}:{n}" for p in sorted(corpora.glob("*.py"))
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
                 if own_rule.search(line)]
    assert offenders == []
