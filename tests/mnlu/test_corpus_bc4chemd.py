"""BC4CHEMD: IOB fixture written from the spec (no public sample: every copy is ≥ 4 MiB)."""

from __future__ import annotations

from mnlu.formats.errors import FormatError
from tests.mnlu.public_corpus_kit import FIXTURES, check_items, convert, medical_text, spans_of


def test_iob_fixture():
    items, ctx = convert("bc4chemd", FIXTURES / "bc4chemd")
    assert ctx.bad_records == []
    check_items(items, "bc4chemd", 2048)
    got = [(i.split, medical_text(i.record), spans_of(i.record)["Chemical"]) for i in items]
    assert got == [
        ("train", "No chemicals here .", []),  # devel.tsv → train
        ("test", "Ethanol and H2O .", ["Ethanol", "H2O"]),
        ("train", "Effects of sodium chloride on rats .", ["sodium chloride"]),
        ("train", "Aspirin helps .", ["Aspirin"]),
    ]


def test_bad_tag_is_reported_with_line(tmp_path):
    (tmp_path / "train.tsv").write_text("Aspirin\tB-Chemical\nhelps\tX-Chemical\n\nOK\tO\n")
    items, ctx = convert("bc4chemd", tmp_path)
    assert len(items) == 1 and medical_text(items[0].record) == "OK"
    (err,) = ctx.bad_records
    assert isinstance(err, FormatError) and err.line == 2 and err.path.endswith("train.tsv")
