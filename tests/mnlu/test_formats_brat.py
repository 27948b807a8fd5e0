"""BRAT standoff reader: every line kind, discontinuous spans, offset checks, and robustness on arbitrary input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnlu.formats.brat import iter_brat_dir, parse_ann, read_brat
from mnlu.formats.errors import FormatError, OffsetMismatch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mnlu" / "brat"


def test_reads_every_line_kind():
    doc = read_brat(FIXTURES / "note1.txt")
    assert doc.doc_id == "note1"
    assert sorted(doc.entities) == [f"T{i}" for i in range(1, 10)]
    t1 = doc.entities["T1"]
    assert (t1.type, t1.spans, t1.text) == ("Drug", ((0, 7),), "Aspirin")
    # a mention across a newline: brat writes the newline as a space in the .ann
    t4 = doc.entities["T4"]
    assert doc.text[t4.start:t4.end] == "gastric\nbleeding" and t4.text == "gastric bleeding"
    t6 = doc.entities["T6"]
    assert t6.discontinuous and t6.spans == ((27, 31), (40, 48))
    assert [doc.text[s:e] for s, e in t6.spans] == ["mild", "bleeding"]
    ev = doc.events["E1"]
    assert (ev.type, ev.trigger, ev.args) == ("Tobacco", "T7", (("Status", "T8"), ("Duration", "T9")))
    rels = [(r.type, r.args) for r in doc.relations]
    assert ("Strength-Drug", (("Arg1", "T2"), ("Arg2", "T1"))) in rels
    assert ("ADE-Drug", (("Arg1", "T4"), ("Arg2", "T1"))) in rels
    assert ("Equiv", (("Arg1", "T1"), ("Arg2", "T5"))) in rels
    assert doc.attributes_of("T8") == {"StatusTimeVal": "past"}
    assert doc.attributes_of("E1") == {"Negated": None}
    (norm,) = doc.normalizations
    assert (norm.target, norm.resource, norm.entry) == ("T1", "RxNorm", "1191")
    (note,) = doc.notes
    assert (note.target, note.text) == ("T5", "second mention")


def test_directory_reader_skips_dot_files_and_reports_orphans(tmp_path):
    (tmp_path / "a.txt").write_text("Hello world")
    (tmp_path / "a.ann").write_text("T1\tX 0 5\tHello\n")
    (tmp_path / "._a.ann").write_bytes(b"\x00\x05junk")
    (tmp_path / "lonely.txt").write_text("no ann")
    errors: list[FormatError] = []
    docs = list(iter_brat_dir(tmp_path, report=errors.append))
    assert [d.doc_id for d in docs] == ["a"]
    assert len(errors) == 1 and "lonely.txt" in str(errors[0])


def test_crlf_text_keeps_offsets(tmp_path):
    """Offsets count the \\r of CRLF files: reading must not translate newlines."""
    (tmp_path / "d.txt").write_bytes(b"first line\r\nsecond line\r\n")
    (tmp_path / "d.ann").write_bytes(b"T1\tX 12 18\tsecond\r\n")
    doc = read_brat(tmp_path / "d.txt")
    assert doc.entities["T1"].spans == ((12, 18),)


def test_bad_offset_strict_names_file_line_and_offset(tmp_path):
    (tmp_path / "d.txt").write_text("Aspirin 81 mg")
    (tmp_path / "d.ann").write_text("T1\tDrug 0 7\tAspirin\nT2\tStrength 9 13\t81 mg\nR1\tS-D Arg1:T2 Arg2:T1\n")
    with pytest.raises(OffsetMismatch) as info:
        read_brat(tmp_path / "d.txt")
    err = info.value
    assert err.path.endswith("d.ann") and err.line == 2 and err.offset == 9
    assert "d.ann:2: offset 9" in str(err)
    assert "81 mg" not in str(err)  # errors never echo the text


def test_bad_offset_lenient_drops_the_entity_and_what_depends_on_it(tmp_path):
    (tmp_path / "d.txt").write_text("Aspirin 81 mg")
    (tmp_path / "d.ann").write_text(
        "T1\tDrug 0 7\tAspirin\nT2\tStrength 9 13\t81 mg\nR1\tS-D Arg1:T2 Arg2:T1\nA1\tNeg T2\nT3\tX 0 99\tA\n"
    )
    errors: list[FormatError] = []
    doc = read_brat(tmp_path / "d.txt", report=errors.append)
    assert list(doc.entities) == ["T1"] and doc.relations == [] and doc.attributes == []
    assert [type(e).__name__ for e in errors] == ["OffsetMismatch", "OffsetMismatch", "FormatError", "FormatError"]
    assert [e.line for e in errors] == [2, 5, 3, 4]


@pytest.mark.parametrize(
    "ann, expected",
    [
        ("T1\tDrug zero 7\tAspirin", "expected offsets"),
        ("T1\tDrug 5 2\tx", "start 5 after end 2"),
        ("Q1\tDrug 0 7\tAspirin", "expected an annotation id"),
        ("T1\tDrug 0 7\tAspirin\nT1\tDrug 0 7\tAspirin", "duplicate annotation id T1"),
        ("E1\tTobacco:T9", "unknown or dropped"),
        ("R1\tRel Arg1:T1", "two arguments"),
        ("T1", "missing the annotation field"),
    ],
)
def test_malformed_lines_are_typed_errors(ann, expected):
    with pytest.raises(FormatError, match=expected):
        parse_ann(ann, "Aspirin 81 mg", ann_path="x.ann")


def test_not_utf8_is_a_format_error(tmp_path):
    (tmp_path / "d.txt").write_bytes(b"ok\n\xff\xfe")
    (tmp_path / "d.ann").write_text("")
    with pytest.raises(FormatError, match=r"d.txt:2: not UTF-8"):
        read_brat(tmp_path / "d.txt")


def _parse_or_format_error(ann_text: str, text: str) -> None:
    errors: list[FormatError] = []
    doc = parse_ann(ann_text, text, ann_path="f.ann", report=errors.append)
    for e in errors:
        assert e.path == "f.ann" and (e.line is None or e.line >= 1)
    for t in doc.entities.values():  # whatever survives matches the text
        assert all(0 <= s <= e <= len(text) for s, e in t.spans)
    try:
        parse_ann(ann_text, text, ann_path="f.ann")
    except FormatError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_records_or_format_errors(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("fuzz")
    (d / "x.txt").write_bytes(data[: len(data) // 2])
    (d / "x.ann").write_bytes(data[len(data) // 2:])
    try:
        read_brat(d / "x.txt")
    except FormatError as e:
        assert "x." in e.path


REAL_ANN = (FIXTURES / "note1.ann").read_text()
REAL_TXT = (FIXTURES / "note1.txt").read_text()


@settings(max_examples=100, deadline=None)  # a few byte edits of one file: 100 suffice
@given(st.data())
def test_mutated_real_file_gives_records_or_format_errors(data):
    ann = REAL_ANN
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(ann)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = data.draw(st.sampled_from(list("\t \n;:0123456789TERA*#-x")))
        if op == "insert":
            ann = ann[:i] + ch + ann[i:]
        elif op == "delete":
            ann = ann[:i] + ann[i + 1:]
        else:
            ann = ann[:i] + ch + ann[i + 1:]
    _parse_or_format_error(ann, REAL_TXT)
