"""Property tests of the i2b2/n2c2 readers: arbitrary bytes and mutated fixture files give records or a typed
FormatError naming the file (and line where known), never another exception and never a hang."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnlu.corpora.registry import ConvertContext, get_corpus
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import decode_text, iter_members
from mnlu.formats.i2b2_concepts import TokenGrid, read_chains, read_concepts, read_medication_entries, resolve
from mnlu.formats.i2b2_xml import (
    iter_inline_records,
    read_obesity_judgments,
    read_obesity_records,
    read_standoff_xml,
)
from tests.mnlu.i2b2_testkit import FIXTURES, build_archives

FAST = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
WHERE = "fixture.xml"


def _fixture(rel: str) -> bytes:
    return (FIXTURES / rel).read_bytes()


@st.composite
def mutated(draw, data: bytes):
    """A fixture with a few random edits: deletions, insertions of markup-ish bytes, byte replacements."""
    out = bytearray(data)
    alphabet = st.sampled_from([b"<", b">", b"/", b'"', b"&", b"]]>", b"<![CDATA[", b"\n", b"||", b":", b"=", b" ",
                                b"\xff", b"\x00", b"12:3", b"<PHI TYPE=\"DATE\">", b"</PHI>", b"start=\"9\""])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace"]))
        i = draw(st.integers(0, len(out)))
        if kind == "delete":
            del out[i: i + draw(st.integers(1, 40))]
        elif kind == "insert":
            out[i:i] = draw(alphabet)
        elif i < len(out):
            out[i] = draw(st.integers(0, 255))
    return bytes(out)


def _ok_or_format_error(fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
        return list(result) if hasattr(result, "__iter__") and not isinstance(result, (str, dict)) else result
    except FormatError as e:
        assert e.path and str(e).startswith(e.path)
        return e


INLINE = _fixture("i2b2_2006_deid/deid_surrogate_train_all_version2.xml")
STANDOFF = [_fixture("i2b2_2014_deid/training-PHI-Gold-Set1/110-01.xml"),
            _fixture("i2b2_2012_temporal/test/ground_truth/merged_xml/53.xml"),
            _fixture("n2c2_2018_cohort/train/100.xml")]
OBESITY_RECORDS = _fixture("i2b2_2008_obesity/obesity_patient_records_training.xml")
OBESITY_ANN = _fixture("i2b2_2008_obesity/obesity_standoff_annotations_training.xml")
CORPUS_2011 = "i2b2_2011_coref/i2b2_Beth_Train_Release/Beth_Train"
NOTE_2011 = _fixture(f"{CORPUS_2011}/docs/clinical-11.txt").decode()
CON = _fixture(f"{CORPUS_2011}/concepts/clinical-11.txt.con")
CHAINS = _fixture(f"{CORPUS_2011}/chains/clinical-11.txt.chains")
MED = _fixture("i2b2_2009_medication/training.ground.truth.01.06.11.2009/training.ground.truth/100101_gold.entries")


@FAST
@given(st.one_of(st.binary(max_size=400), mutated(INLINE)))
def test_inline_records(data):
    errors = []
    got = _ok_or_format_error(lambda: iter_inline_records(decode_text(data, WHERE), WHERE, report=errors.append))
    for e in errors:
        assert isinstance(e, FormatError) and e.path == WHERE and e.line is not None
    if isinstance(got, list):
        for rec in got:
            for s in rec.spans:
                assert 0 <= s.start <= s.end <= len(rec.text)


@FAST
@given(st.one_of(st.binary(max_size=400), *(mutated(f) for f in STANDOFF)))
def test_standoff_xml(data):
    got = _ok_or_format_error(lambda: read_standoff_xml(decode_text(data, WHERE), WHERE))
    if not isinstance(got, FormatError):
        assert all(t.line >= 1 for t in got.tags)


@FAST
@given(st.one_of(st.binary(max_size=300), mutated(OBESITY_RECORDS), mutated(OBESITY_ANN)))
def test_obesity_files(data):
    _ok_or_format_error(read_obesity_records, data, WHERE)
    errors = []
    got = _ok_or_format_error(read_obesity_judgments, data, WHERE, report=errors.append)
    assert all(isinstance(e, FormatError) and e.line is not None for e in errors)
    if isinstance(got, list):
        assert all(j.judgment in "YNQU" for j in got)


@FAST
@given(st.one_of(st.binary(max_size=300), mutated(CON), mutated(CHAINS), mutated(MED)))
def test_line_token_files(data):
    text = _ok_or_format_error(decode_text, data, WHERE)
    if isinstance(text, FormatError):
        return
    grid = TokenGrid(NOTE_2011)
    for reader in (read_concepts, read_chains, read_medication_entries):
        errors = []
        got = _ok_or_format_error(reader, text, WHERE, report=errors.append)
        assert all(isinstance(e, FormatError) and e.line is not None for e in errors)
        for item in got if isinstance(got, list) else []:
            mentions = getattr(item, "mentions", None) or ([item.mention] if hasattr(item, "mention") else [])
            for m in mentions:
                span = _ok_or_format_error(resolve, grid, m.begin, m.end, m.text, where=WHERE, line=item.line,
                                           what="x")
                if isinstance(span, tuple):
                    assert 0 <= span[0] <= span[1] <= len(NOTE_2011)


@FAST
@given(st.binary(max_size=600), st.sampled_from(["a.zip", "a.tar.gz", "a.tgz", "a.tar"]))
def test_archives_of_arbitrary_bytes(tmp_path_factory, data, name):
    path = Path(tmp_path_factory.mktemp("arch")) / name
    path.write_bytes(data)
    got = _ok_or_format_error(iter_members, path)
    assert isinstance(got, (list, FormatError))


@settings(max_examples=25, deadline=4000, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_truncated_archives(tmp_path_factory, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x/a.xml", INLINE)
    good_zip = buf.getvalue()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("x/a.xml")
        info.size = len(INLINE)
        tf.addfile(info, io.BytesIO(INLINE))
    good_tar = buf.getvalue()
    name, blob = data.draw(st.sampled_from([("a.zip", good_zip), ("a.tar.gz", good_tar)]))
    cut = data.draw(st.integers(0, len(blob)))
    path = Path(tmp_path_factory.mktemp("cut")) / name
    path.write_bytes(blob[:cut] + data.draw(st.binary(max_size=8)))
    _ok_or_format_error(iter_members, path)


# Whole converters on one mutated file of their fixtures: reported records or FormatError, nothing else.
CONVERTER_CASES = {
    "i2b2_2011_coref": ({"i2b2_Beth_Train_Release": "i2b2_Beth_Train_Release.tar.gz",
                         "Task_1C": "Task_1C.zip", "Task_1C_Test_groundtruth": "Task_1C_Test_groundtruth.zip"}, ".con"),
    "i2b2_2009_medication": ({"train.test.released.8.17.09": "train.test.released.8.17.09.tar.gz",
                              "training.sets.released": "training.sets.released.tar.gz",
                              "training.ground.truth.01.06.11.2009": "training.ground.truth.01.06.11.2009.zip",
                              "annotations_ground_truth": "annotations_ground_truth.tar.gz"}, ".entries"),
    "n2c2_2018_ade": ({"training_20180910": "training_20180910.zip"}, ".ann"),
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["i2b2_2011_coref", "i2b2_2009_medication", "n2c2_2018_ade"]), st.data())
def test_converters_on_mutated_fixtures(tmp_path_factory, corpus, data):
    archives, suffix = CONVERTER_CASES[corpus]

    def mutate(name, blob):
        return data.draw(mutated(blob)) if name.endswith(suffix) else blob

    root = build_archives(corpus, Path(tmp_path_factory.mktemp(corpus)), archives, mutate)
    ctx = ConvertContext()
    try:
        items = list(get_corpus(corpus).convert(root, ctx))
    except FormatError as e:
        assert e.path
        return
    assert all(isinstance(e, FormatError) and e.path for e in ctx.bad_records)
    for it in items:
        assert it.record["messages"][-1]["role"] == "assistant"
