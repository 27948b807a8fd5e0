"""JSON / JSON Lines / CSV / TSV readers: record lines, header checks, encodings, robustness."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import json_key_lines, read_delimited, read_json, read_jsonl, read_records
from tests.mnlu.public_corpus_kit import SHARED_MNLU, shared
from tests.mnlu.reader_fuzz import mutated


def test_euadr_tsv_sample_with_latin1_fallback():
    path = shared("euadr") / "EUADR_Corpus_IBIgroup" / "EUADR_target_disease.csv"
    with pytest.raises(FormatError, match="not UTF-8"):
        list(read_delimited(path, delimiter="\t"))
    rows = list(read_delimited(path, delimiter="\t", fallback_encoding="latin-1"))
    assert len(rows) == 30 and rows[0][0] == 2
    assert rows[0][1]["ASSOCIATION_TYPE"] == "SA" and rows[0][1]["ENTITY1_TEXT"] == "LRP5"


def test_pico_jsonl_sample():
    path = shared("pico_data_nguyen2017") / "annotations" / "acl17-test" / "PICO-annos-professional.json"
    rows = list(read_jsonl(path))
    assert len(rows) == 20 and rows[0] == (1, rows[0][1]) and rows[0][1]["docid"] == "23549581"
    assert list(read_records(path))[0][1]["docid"] == "23549581"  # a .json that is JSON Lines


def test_multiline_csv_records_report_start_lines(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('a,b\n1,"two\nlines"\n3\n4,5\n')
    errors = []
    rows = list(read_delimited(path, on_bad=errors.append, required=("a", "b")))
    assert rows == [(2, {"a": "1", "b": "two\nlines"}), (5, {"a": "4", "b": "5"})]
    assert [e.line for e in errors] == [4]
    with pytest.raises(FormatError, match="missing column"):
        list(read_delimited(path, required=("c",)))


def test_json_arrays_and_key_lines(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"data": [\n  {"src": 1},\n  {"src": 2}\n]}')
    assert list(read_records(path)) == [(2, {"src": 1}), (3, {"src": 2})]
    path.write_text('{\n "u1": {"Label": 1},\n "u2": {}\n}')
    assert json_key_lines(path) == {"u1": 2, "u2": 3}
    path.write_text('{"a": }')
    with pytest.raises(FormatError) as info:
        read_json(path)
    assert info.value.line == 1


def test_bom_pandas_index_and_unquoted_tsv(tmp_path):
    """What the tabular corpora need: a BOM anywhere, MTSamples' empty index header, GLUE's stray quotes."""
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeff,medical_specialty,transcription\n0, Urology,\"a,b\"\n".encode())
    assert list(read_delimited(path, required=("medical_specialty",))) == [
        (2, {"": "0", "medical_specialty": " Urology", "transcription": "a,b"})]
    path = tmp_path / "train.tsv"
    path.write_text('index\tsentence1\tscore\n0\tHe said "hi.\t5.0\n')
    assert list(read_delimited(path, delimiter="\t", quoting=csv.QUOTE_NONE))[0][1]["sentence1"] == 'He said "hi.'
    for name, body in (("a.jsonl", '\ufeff{"x": 1}\n'), ("a.json", '\ufeff[{"x": 1}]')):
        (tmp_path / name).write_text(body, encoding="utf-8")
        assert list(read_records(tmp_path / name)) == [(1, {"x": 1})]
    (tmp_path / "b.json").write_text('\ufeff{"k": 1}', encoding="utf-8")
    assert read_json(tmp_path / "b.json") == {"k": 1}


def test_records_errors_name_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n{"a": \n\n{"a": 2}\n')
    errors = []
    assert list(read_jsonl(path, on_bad=errors.append)) == [(1, {"a": 1}), (5, {"a": 2})]
    assert [(e.line, e.reason.split(" (")[0]) for e in errors] == [(2, "expected a JSON object, got list"),
                                                                   (3, "not JSON")]
    assert str(errors[1]).startswith(f"{path}:3: ")
    with pytest.raises(FormatError, match="unsupported file type '.txt'"):
        list(read_records(tmp_path / "x.txt"))
    (tmp_path / "two.json").write_text('{"a": [1], "b": [2]}')
    with pytest.raises(FormatError, match="found 2 arrays"):
        list(read_records(tmp_path / "two.json"))
    (tmp_path / "dup.csv").write_text("a,a\n1,2\n")
    with pytest.raises(FormatError, match="duplicate column names"):
        list(read_delimited(tmp_path / "dup.csv"))


def _read_all(data: bytes, tmp_path_factory, suffix: str) -> None:
    path = tmp_path_factory.mktemp("tab") / f"f{suffix}"
    path.write_bytes(data)
    try:
        if suffix == ".tsv":
            list(read_delimited(path, delimiter="\t", quoting=csv.QUOTE_NONE, on_bad=lambda e: None))
        else:
            list(read_records(path, on_bad=lambda e: None))
    except FormatError as e:
        assert e.path == str(path)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([".csv", ".tsv", ".json", ".jsonl"]))
def test_arbitrary_bytes(tmp_path_factory, data, suffix):
    _read_all(data, tmp_path_factory, suffix)


REAL_TSV = ((SHARED_MNLU / "euadr" / "EUADR_Corpus_IBIgroup" / "EUADR_drug_disease.csv").read_bytes()[:3000]
            if SHARED_MNLU.is_dir() else b"")
REAL_JSONL = ((SHARED_MNLU / "pico_data_nguyen2017" / "annotations" / "acl17-test" / "PICO-annos-professional.json")
              .read_bytes()[:3000] if SHARED_MNLU.is_dir() else b"")


@pytest.mark.skipif(not REAL_TSV, reason="shared sample absent")
@settings(max_examples=100, deadline=None)  # a few byte edits of one file: 100 suffice
@given(st.data())
def test_mutated_real_files(tmp_path_factory, data):
    _read_all(data.draw(mutated(REAL_TSV)), tmp_path_factory, ".tsv")
    _read_all(data.draw(mutated(REAL_JSONL)), tmp_path_factory, ".json")
