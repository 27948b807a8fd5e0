"""EU-ADR: the real IBI sentence-level sample (one RE item per row; Latin-1 file included)."""

from __future__ import annotations

from collections import Counter

from tests.mnlu.public_corpus_kit import check_items, choice_of, convert, medical_text, shared


def test_real_sample():
    items, ctx = convert("euadr", shared("euadr"))
    assert ctx.bad_records == []
    assert len(items) == 90 and {i.family for i in items} == {"RE"}  # 3 files × 30 rows
    check_items(items, "euadr", 2048)
    # PA 61, SA 6, FA 23 in the three files (cut -f1 | uniq -c)
    assert Counter(choice_of(i.record) for i in items) == {
        "positive association": 61, "speculative association": 6, "not related to": 23}
    first = items[0].record
    assert first["prompt_id"] == "RE/euadr/" + items[0].split + "/drug_disease-17897305-8-L2/0"
    assert medical_text(first) == ("Body height, weight and obesity increase the risk of <<venous thrombosis>>, "
                                   "especially obesity in women using [[oral contraceptives]].")
    latin1 = [medical_text(i.record) for i in items if "Krüppel-like factor 5" in medical_text(i.record)]
    assert latin1  # EUADR_target_disease.csv is Latin-1 (0xFC)
