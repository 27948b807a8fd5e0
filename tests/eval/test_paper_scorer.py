"""The paper-style scorer reproduces hand-worked examples of every rule of the released `evaluation.py`."""

from __future__ import annotations

import math

import pytest
from scipy.stats import pearsonr

from eval.scoring.paper import overall, read_events, read_options, score_paper


def rec(reference, prediction, task="events", type_="named entities", options="", pid="p"):
    return {"prompt_id": pid, "reference": reference, "prediction": prediction, "task": task, "type": type_,
            "options": options}


def test_spans_case_insensitive_exact_each_reference_used_once():
    # reference: aspirin, Aspirin, ibuprofen; prediction: ASPIRIN twice, naproxen, "ibuprofen " with a brace.
    r = score_paper([rec("Chemical: aspirin...Aspirin...ibuprofen", "Chemical: ASPIRIN...aspirin...naproxen...{ibuprofen")])
    assert r.rows == {"Chemical,trigger,span": [3, 4, 3]}
    assert r.precision == pytest.approx(75.0) and r.recall == pytest.approx(100.0)
    assert r.score == pytest.approx(2 * 75 * 100 / 175)
    assert r.errors == [{"prompt_id": "p", "FP": [("Chemical", "naproxen")], "FN": None}]


def test_none_answer_and_more_than_twenty_spans_deduplicated():
    assert read_events("Disease: None") == ([], "Disease")
    spans, _ = read_events("Gene: " + "...".join(["a"] * 21 + ["b"]))
    assert sorted(spans) == ["a", "b"]  # > 20 spans: the paper takes set()
    assert read_events("no colon here") == ([], None)


def test_pairing_by_type_when_line_counts_differ():
    reference = "Protein: IL-2\nDNA: None\nCell type: T cells"
    # 2 lines for 3 reference lines: each goes to the first reference line starting with its type.
    prediction = "Cell type: T cells\nProtein: IL-2...NF-kB"
    r = score_paper([rec(reference, prediction)])
    assert r.rows["Protein,trigger,span"] == [1, 2, 1]
    assert r.rows["DNA,trigger,span"] == [0, 0, 0]
    assert r.rows["Cell type,trigger,span"] == [1, 1, 1]
    # the DNA row has no reference spans, so it is left out of the total: P = 2/3, R = 2/2
    assert r.precision == pytest.approx(200 / 3) and r.recall == pytest.approx(100)


def test_lines_paired_by_position_when_counts_match():
    # Same number of lines: the released code zips by position, whatever the predicted type says.
    r = score_paper([rec("Protein: IL-2\nDNA: kappa B site", "DNA: kappa B site\nProtein: IL-2")])
    assert r.rows["Protein,trigger,span"] == [1, 1, 0]
    assert r.rows["DNA,trigger,span"] == [1, 1, 0]
    assert r.score == 0


def test_pico_matches_words_case_sensitively():
    r = score_paper([rec("Participants: 40 Patients with asthma", "Participants: 40 patients with asthma", task="PICO")])
    assert r.rows["Participants,trigger,span"] == [4, 4, 3]


def test_negative_rows_are_left_out_of_the_total():
    opts = "upregulator[SEP]downregulator[SEP]none"
    records = [
        rec("(A) upregulator", "(A) upregulator", "classification", "chemical protein relation", opts, "1"),
        rec("(C) none", "(C) none", "classification", "chemical protein relation", opts, "2"),
        rec("(C) none", "(B) downregulator", "classification", "chemical protein relation", opts, "3"),
        rec("(B) downregulator", "(C) none", "classification", "chemical protein relation", opts, "4"),
    ]
    r = score_paper(records)
    assert r.rows["chemical protein relation,none,-"] == [2, 2, 1]
    # kept rows: upregulator [1,1,1], downregulator [1,1,0] → P = 1/2, R = 1/2
    assert r.precision == pytest.approx(50) and r.recall == pytest.approx(50) and r.score == pytest.approx(50)
    # ",no," also marks a negative row (GAD-style yes/no)
    g = score_paper([rec("(B) no", "(B) no", "classification", "gene disease association", "yes[SEP]no")])
    assert g.score == 0 and overall({"x,no,-": [5, 5, 5]}) == (0.0, 0.0, 0.0)


def test_first_marker_is_in_letter_order_and_no_marker_means_first_option():
    options = ["yes", "no", "maybe"]
    assert read_options(options, "(C) maybe, or rather (B) no") == ("no", True)  # B before C, not position
    assert read_options(options, "I think it is no") == ("yes", False)
    assert read_options(["a,b", "associated_with_someone_else"], "(B)") == ("not_patient", True)
    assert read_options(["a,b", "c"], "(A)") == ("a-b", True)
    r = score_paper([rec("(B) no", "no idea", "classification", "question", "yes[SEP]no[SEP]maybe")])
    assert r.unparsed == 1 and r.rows["question,yes,-"] == [0, 1, 0]


def test_multi_label_every_marker_counts():
    opts = "angiogenesis[SEP]cell death[SEP]inflammation"
    r = score_paper([rec("(A) angiogenesis\n(C) inflammation", "(A) angiogenesis (B) cell death", "MultiQA", "hoc", opts)])
    assert r.rows == {"angiogenesis": [1, 1, 1], "inflammation": [1, 0, 0], "cell death": [0, 1, 0]}
    # the 'cell death' row has no reference, so it is left out: P = 1/1, R = 1/2
    assert r.precision == pytest.approx(100) and r.recall == pytest.approx(50)


def test_accuracy_is_reference_contained_in_output():
    records = [
        rec("(A) yes", "The answer is (a) YES.", "QA", "qa", "yes[SEP]no[SEP]maybe", "1"),
        rec("(B) no", "(B)", "QA", "qa", "yes[SEP]no[SEP]maybe", "2"),  # marker alone does not contain '(b) no'
        rec("(A) entailment", "(A) entailment", "NLI", "nli", "entailment[SEP]neutral[SEP]contradiction", "3"),
    ]
    r = score_paper(records)
    assert r.rows == {"classification,,": [3, 3, 2]} and r.score == pytest.approx(200 / 3)


def test_sts_is_pearson_over_chosen_integers():
    opts = "0[SEP]1[SEP]2[SEP]3[SEP]4"
    refs, preds = ["(A) 0", "(C) 2", "(E) 4", "(D) 3"], ["(B) 1", "(C) 2", "(D) 3", "no marker"]
    r = score_paper([rec(a, b, "STS", "sts", opts, str(i)) for i, (a, b) in enumerate(zip(refs, preds, strict=True))])
    assert r.score == pytest.approx(pearsonr([0, 2, 4, 3], [1, 2, 3, 0])[0] * 100)  # no marker → first option, 0
    assert r.unparsed == 1
    constant = score_paper([rec("(A) 0", "(B) 1", "STS", "sts", opts, "a"), rec("(C) 2", "(B) 1", "STS", "sts", opts, "b")])
    assert math.isnan(constant.score)


def test_malformed_outputs_are_wrong_and_counted_never_raised():
    records = [
        rec("Chemical: aspirin", "", pid="1"),
        rec("Chemical: aspirin", "aspirin", pid="2"),  # no type line
        rec("Chemical: aspirin", "\x00::::\n...", pid="3"),
        rec("(A) yes", "", "QA", "qa", "yes[SEP]no", "4"),
        rec("(A) x", "((((", "MultiQA", "m", "x[SEP]y", "5"),
    ]
    r = score_paper(records)
    assert r.unparsed == 4 and r.score < 100
