"""IOB reader: real LINNAEUS sample, IOB/IOBES decoding, bad lines, robustness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnlu.formats.errors import FormatError
from mnlu.formats.iob import parse_iob, read_iob
from tests.mnlu.public_corpus_kit import SHARED_MNLU, shared
from tests.mnlu.reader_fuzz import mutated


def test_linnaeus_sample():
    sents = list(read_iob(shared("linnaeus") / "linnaeus-IOB" / "devel.tsv"))
    assert len(sents) == 9 and sents[0].line == 1
    assert sents[0].spans()[0][2] == "Species"
    assert [sents[0].text[s:e] for s, e, _ in sents[0].spans()] == ["Solanum tuberosum", "potato", "wheat"]


@pytest.mark.parametrize("tags, expected", [
    (["B-X", "I-X", "O", "B-Y"], [("a b", "X"), ("d", "Y")]),
    (["I-X", "I-X", "B-X", "O"], [("a b", "X"), ("c", "X")]),  # I without B starts a mention (conlleval)
    (["S-X", "B-Y", "E-Y", "S-X"], [("a", "X"), ("b c", "Y"), ("d", "X")]),  # IOBES
    (["B-X", "I-Y", "O", "O"], [("a", "X"), ("b", "Y")]),
])
def test_decoding(tags, expected):
    content = "".join(f"{t}\t{g}\n" for t, g in zip("abcd", tags, strict=True))
    (sent,) = parse_iob(content, path="x")
    assert [(sent.text[s:e], t) for s, e, t in sent.spans()] == expected


def test_bad_tag_names_line_and_skips_sentence():
    content = "a\tO\nb\tBAD\n\nc\tB-X\n"
    with pytest.raises(FormatError) as info:
        list(parse_iob(content, path="f.tsv"))
    assert (info.value.path, info.value.line) == ("f.tsv", 2)
    errors = []
    sents = list(parse_iob(content, path="f.tsv", report=errors.append))
    assert [s.tokens for s in sents] == [("c",)] and len(errors) == 1


def _read_all(data: bytes, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("iob") / "f.tsv"
    path.write_bytes(data)
    try:
        for sent in read_iob(path, report=lambda e: None):
            for s, e, _ in sent.spans():
                assert 0 <= s < e <= len(sent.text)
    except FormatError as e:
        assert e.path == str(path)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(tmp_path_factory, data):
    _read_all(data, tmp_path_factory)


REAL = (SHARED_MNLU / "linnaeus" / "linnaeus-IOB" / "devel.tsv").read_bytes() if SHARED_MNLU.is_dir() else b""


@pytest.mark.skipif(not REAL, reason="shared sample absent")
@settings(max_examples=100, deadline=None)  # a few byte edits of one file: 100 suffice
@given(st.data())
def test_mutated_real_file(tmp_path_factory, data):
    _read_all(data.draw(mutated(REAL)), tmp_path_factory)


def test_docstart_opens_a_document_and_ends_the_sentence():
    content = "-DOCSTART- (123)\n\na\tB-X\nb\tO\n-DOCSTART-\tO\nc\tI-X\n\nd\tO\n"
    sents = list(parse_iob(content, path="f.tsv"))
    assert [(s.tokens, s.doc, s.line) for s in sents] == [(("a", "b"), "123", 3), (("c",), "doc@5", 6),
                                                           (("d",), "doc@5", 8)]


@pytest.mark.parametrize("columns, scheme, content, message", [
    ("pair", "iob", "a\tO\tx\n", r"f.tsv:1: 3 columns; expected token<TAB>tag"),
    ("pair", "iob", "a\tE-X\n", r"f.tsv:1: tag 'E-X': expected B-X, I-X, B, I or O"),
    ("pair", "io", "a\tB-X\n", r"f.tsv:1: tag 'B-X': expected I-X or O"),
    ("blue", "iob", "a\t-\t0\n", r"f.tsv:1: 3 columns; expected token, file, offset, tag"),
    ("any", "iobes", "a b\n", r"f.tsv:1: tag 'b' is not O, B-X, I-X, E-X or S-X"),
])
def test_layouts_and_schemes_name_the_line(columns, scheme, content, message):
    with pytest.raises(FormatError, match=message):
        list(parse_iob(content, path="f.tsv", columns=columns, scheme=scheme))


def test_benchmark_layouts():
    # BLURB pairs keep tokens as written (a space inside a token is the file's business); untyped B/I pass.
    (sent,) = parse_iob("a b\tB\nc\tI\n", path="f", columns="pair", scheme="iob")
    assert sent.tokens == ("a b", "c") and sent.tags == ("B", "I")
    # BLUE: CSV-quoted, a file name opens a document and ends the sentence.
    content = 'x\tdoc1.txt\t0\tB\n"""q"""\t-\t2\tI\ny\tdoc2.txt\t0\tO\n'
    sents = list(parse_iob(content, path="f", columns="blue", scheme="iob"))
    assert [(s.tokens, s.doc) for s in sents] == [(("x", '"q"'), "doc1.txt"), (("y",), "doc2.txt")]
    (pico,) = parse_iob("a\tI-PAR\nb\tI\n", path="f", columns="pair", scheme="io")
    assert pico.spans() == [(0, 1, "PAR"), (2, 3, "")]  # an untyped I does not continue I-PAR (eval types it first)
    with pytest.raises(ValueError, match="columns 'csv'"):
        list(parse_iob("a\tO\n", columns="csv"))
