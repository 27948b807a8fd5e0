"""PICO-data (Nguyen et al. 2017): real sample, crowd (HMMCrowd) labels for train, expert labels for acl17-test."""

from __future__ import annotations

from collections import Counter

from tests.mnlu.public_corpus_kit import check_items, convert, shared, spans_of


def test_real_sample():
    root = shared("pico_data_nguyen2017")
    items, ctx = convert("pico_data_nguyen2017", root)
    assert ctx.bad_records == []
    assert Counter(i.split for i in items) == {"train": 50, "test": 20}  # 50 train lines, 20 acl17-test lines
    check_items(items, "pico_data_nguyen2017", 2048)
    by_doc = {i.record["prompt_id"].split("/")[3]: i.record for i in items}
    text = (root / "docs" / "23549581.txt").read_text()
    # professional line 1: MedicalStudent [[66, 131], [217, 268], ...]; trailing ".,;:" and spaces are trimmed
    expected = [text[s:e].strip().rstrip(".,;:").strip() for s, e in [(66, 131), (217, 268), (536, 659), (896, 1158),
                                                                      (2233, 2298)]]
    assert spans_of(by_doc["23549581"])["Participants"] == expected
    assert expected[0] == "patients with chemotherapy-induced painful peripheral neuropathy"
    train_text = (root / "docs" / "24070810.txt").read_text()
    assert train_text[49:88] == "acute seasonal allergic conjunctivitis."  # HMMCrowd [49, 88]
    assert spans_of(by_doc["24070810"])["Participants"][0] == "acute seasonal allergic conjunctivitis"
