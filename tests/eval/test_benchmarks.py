"""Benchmark adapters: real files give the documented counts and valid unified records; credentialed formats are
read from fixtures written here in their documented layouts; bad input is a clear error."""

from __future__ import annotations

import json

import pytest

from eval.benchmarks import DATASETS, SUITES, UnknownBenchmark, resolve
from mnlu.formats.errors import FormatError
from mnlu.prompts import MEDICAL_TEXT, parse_choice, parse_span_answer
from mnlu.schema import validate_record
from tests.conftest import SHARED_DATA

EVAL = SHARED_DATA / "eval"
needs_data = pytest.mark.skipif(not EVAL.is_dir(), reason=f"{EVAL} is absent (real public data beside the checkout)")


def test_suites_and_names():
    assert len(SUITES["blurb"]) == 13 and len(SUITES["blue"]) == 10
    assert all(n == n.lower() for n in DATASETS)
    assert [d.name for d in resolve("blurb,blue")][:13] == list(SUITES["blurb"])
    assert len(resolve("blurb,blue")) == 13 + 10 - 3  # biosses, bc5chem, bc5disease are in both
    with pytest.raises(UnknownBenchmark, match="unknown benchmark 'bluee'"):
        resolve("blurb,bluee")


@needs_data
@pytest.mark.parametrize(
    "name,split,n",
    [("bc5chem", "test", 4797), ("bc2gm", "devel", 2519), ("jnlpba", "test", 3856), ("ebm_pico", "test", 191),
     ("chemprot", "dev", 11268), ("ddi", "test", 5716), ("gad", "test", 534), ("biosses", "test", 20),
     ("hoc", "test", 371), ("pubmedqa", "test", 500), ("blue_ddi", "test", 5761), ("blue_chemprot", "dev", 11820),
     ("blue_hoc", "test", 315)],
)
def test_real_files_give_documented_counts_and_valid_records(name, split, n):
    split = {"devel": "dev"}.get(split, split)
    its = DATASETS[name].items(EVAL, split)
    assert len(its) == n
    assert len({it.prompt_id for it in its}) == n
    for it in its[:50] + its[-50:]:
        validate_record(it.record, require_answer=True)


@needs_data
def test_ner_answers_list_mentions_in_text_order_with_repeats():
    its = DATASETS["bc5chem"].items(EVAL, "test")
    n_mentions = 0
    repeated = 0
    for it in its:
        spans = parse_span_answer(it.record["messages"][-1]["content"])["Chemical"]
        n_mentions += len(spans)
        repeated += len(spans) != len(set(spans))
        text = it.record["messages"][1]["content"].split(MEDICAL_TEXT, 1)[1]
        assert text == " ".join(it.gold.tokens)
        pos = 0
        for s in spans:  # each listed span occurs at or after the previous one
            found = (" " + text + " ").find(" " + s + " ", pos)
            assert found >= 0
            pos = found + 1
    assert n_mentions == 5385 and repeated > 100


@needs_data
def test_jnlpba_has_five_typed_lines_and_hoc_or_of_sentence_labels():
    it = DATASETS["jnlpba"].items(EVAL, "test", limit=1)[0]
    assert [line.split(":")[0] for line in it.record["messages"][-1]["content"].splitlines()] == [
        "Protein", "DNA", "RNA", "Cell type", "Cell line"]
    hoc = DATASETS["hoc"].items(EVAL, "test")
    per_label = [sum(label in it.gold for it in hoc) for label in sorted({x for it in hoc for x in it.gold})]
    assert per_label == [62, 14, 19, 24, 53, 65, 23, 79, 105, 40]  # README: abstracts per label k = 0..9
    assert sum(not it.gold for it in hoc) == 53


@needs_data
def test_pubmedqa_and_biosses_gold():
    pq = DATASETS["pubmedqa"].items(EVAL, "test")
    assert [sum(it.gold == x for it in pq) for x in ("yes", "no", "maybe")] == [276, 169, 55]
    assert all(it.record["messages"][-1]["content"] == f"({'ABC'[['yes', 'no', 'maybe'].index(it.gold)]}) {it.gold}"
               for it in pq)
    bio = DATASETS["biosses"].items(EVAL, "test")
    assert min(it.gold for it in bio) == 0.0 and max(it.gold for it in bio) == 3.6


# ------------------------------------------------------------------------------------ credentialed: fixtures


def test_mednli_fixture(tmp_path):
    d = tmp_path / "MedNLI"
    d.mkdir()
    rows = [{"sentence1": "Patient denies chest pain.", "sentence2": "The patient has chest pain.",
             "gold_label": "contradiction", "pairID": "a1"},
            {"sentence1": "Labs were normal.", "sentence2": "Labs were drawn.", "gold_label": "entailment",
             "pairID": "a2"}]
    (d / "mli_test_v1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    its = DATASETS["mednli"].items(tmp_path)
    assert [it.gold for it in its] == ["contradiction", "entailment"]
    assert its[0].record["task"] == "NLI" and its[0].record["messages"][-1]["content"] == "(C) contradiction"
    result = DATASETS["mednli"].official(its, {its[0].prompt_id: "(C) contradiction", its[1].prompt_id: "(B)"})
    assert result.score == 50 and result.unparsed == 0
    (d / "mli_test_v1.jsonl").write_text(json.dumps({**rows[0], "gold_label": "maybe"}) + "\n")
    with pytest.raises(FormatError, match=r"mli_test_v1.jsonl:1: gold_label 'maybe'"):
        DATASETS["mednli"].items(tmp_path)


def test_medsts_fixture_blue_layout(tmp_path):
    d = tmp_path / "MedSTS"
    d.mkdir()
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
    body = ('0\tGENRE\tfilename\t1997\t1\tMedSTS\tMedSTS\t"Take 1 tablet\tdaily."\tTake one tablet daily.\t4.5\n'
            "1\tGENRE\tfilename\t1997\t1\tMedSTS\tMedSTS\tNo fever.\tPatient ambulates.\t0.25\n")
    (d / "test.tsv").write_text(header + body)
    its = DATASETS["medsts"].items(tmp_path)
    assert [it.gold for it in its] == [4.5, 0.25]
    assert "Take 1 tablet\tdaily." in its[0].record["messages"][1]["content"]  # quoted TAB kept
    assert parse_choice(its[0].record["messages"][-1]["content"], its[0].record["options"]) == 5  # 4.5 → 5


def test_shareclefe_fixture_blue_ner_columns(tmp_path):
    d = tmp_path / "ShARe-CLEFE"
    d.mkdir()
    lines = ["Chest\t00098-016139\t0\tB", "pain\t-\t6\tI", "and\t-\t11\tO", "\"\"\"\"\t-\t15\tO", "",
             "No\t-\t20\tO", "dyspnea\t-\t23\tB", ".\t-\t30\tO", ""]
    (d / "Test.tsv").write_text("\n".join(lines) + "\n")
    its = DATASETS["shareclefe"].items(tmp_path)
    assert its[0].gold.tokens == ("Chest", "pain", "and", '"')
    assert its[0].gold.tags == ("B-Disorder", "I-Disorder", "O", "O")
    assert its[1].record["messages"][-1]["content"] == "Disorder: dyspnea"
    result = DATASETS["shareclefe"].official(its, {its[0].prompt_id: "Disorder: Chest pain",
                                                   its[1].prompt_id: "Disorder: None"})
    assert result.score == pytest.approx(100 * 2 * 1 * 0.5 / 1.5)
    (d / "Test.tsv").write_text("Chest\t0\tB\n")
    with pytest.raises(FormatError, match=r"Test.tsv:1: 3 columns"):
        DATASETS["shareclefe"].items(tmp_path)


def test_i2b2_2010_fixture(tmp_path):
    d = tmp_path / "i2b2-2010"
    d.mkdir()
    (d / "test.tsv").write_text(
        "index\tsentence\tlabel\n"
        "0001.a.b\tHe was given @treatment$ for @problem$ .\tTrAP\n"
        "0001.a.c\t\"@test$ showed \"\"no\"\" @problem$\"\tfalse\n")
    its = DATASETS["i2b2_2010"].items(tmp_path)
    assert [it.gold for it in its] == ["TrAP", "false"]
    assert 'showed "no"' in its[1].record["messages"][1]["content"]
    result = DATASETS["i2b2_2010"].official(its, {its[0].prompt_id: "(D) treatment is administered for problem",
                                                  its[1].prompt_id: "(F) test reveals problem"})
    assert result.score == pytest.approx(100 * 2 * 0.5 * 1 / 1.5)


def test_bioasq_fixture_blurb_layout(tmp_path):
    d = tmp_path / "BioASQ"
    d.mkdir()
    (d / "test.tsv").write_text("5c58a7\tIs X a peptide?\tX is a 36-amino-acid peptide.\tyes\n"
                                "5be49287\tIs Y effective?\tNone of 13 patients responded.\tno\n")
    its = DATASETS["bioasq"].items(tmp_path)
    assert [it.gold for it in its] == ["yes", "no"] and its[0].record["task"] == "QA"
    assert DATASETS["bioasq"].official(its, {its[0].prompt_id: "yes", its[1].prompt_id: "(A) yes"}).score == 50


# ----------------------------------------------------------------------------------------------- bad input


def test_missing_dataset_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ncbi_disease: .*NCBI-disease/test.tsv not found"):
        DATASETS["ncbi_disease"].items(tmp_path)
    with pytest.raises(FileNotFoundError, match="credentialed"):
        DATASETS["mednli"].items(tmp_path)


def test_bad_iob_and_tsv_name_file_and_line(tmp_path):
    d = tmp_path / "NCBI-disease"
    d.mkdir()
    (d / "test.tsv").write_text("Cancer\tB-Disease\nrisk\tX-Disease\n\n")
    with pytest.raises(FormatError, match=r"test.tsv:2: tag 'X-Disease'"):
        DATASETS["ncbi_disease"].items(tmp_path)
    (d / "test.tsv").write_text("Cancer\tB-Gene\n\n")
    with pytest.raises(FormatError, match=r"test.tsv:1: entity type 'Gene'"):
        DATASETS["ncbi_disease"].items(tmp_path)
    g = tmp_path / "GAD"
    g.mkdir()
    (g / "test.tsv").write_text("index\tsentence\tlabel\n0\t@GENE$ and @DISEASE$\t2\n")
    with pytest.raises(FormatError, match=r"GAD/test.tsv:2: label '2'"):
        DATASETS["gad"].items(tmp_path)
