"""`mnlu eval` end to end without a model: --list, --export-prompts, --predictions (paper-style alone, and with the
official figures joined to the gold data), the report files, and clear errors for bad input."""

from __future__ import annotations

import json

import pytest

from eval.backends.store import prediction_row
from eval.cli import main
from mnlu.schema import validate_record
from tests.conftest import SHARED_DATA

EVAL = SHARED_DATA / "eval"
needs_data = pytest.mark.skipif(not EVAL.is_dir(), reason=f"{EVAL} is absent (real public data beside the checkout)")
BENCH = "bc5chem,jnlpba,ebm_pico,ddi,gad,biosses,hoc,pubmedqa,blue_ddi,blue_hoc"


def test_list_names_every_dataset_and_suite(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("blurb", "blue", "bc5chem", "ncbi_disease", "blue_hoc", "i2b2_2010", "mednli", "shareclefe"):
        assert name in out


@needs_data
def test_export_then_score_gold_predictions(tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    assert main(["--benchmarks", BENCH, "--data-dir", str(EVAL), "--export-prompts", str(prompts), "--limit", "40"]) == 0
    records = [json.loads(line) for line in prompts.read_text().splitlines()]
    assert len(records) == 40 * 9 + 20  # BIOSSES has 20
    for r in records:
        validate_record(r, require_answer=True)
    preds = tmp_path / "preds.jsonl"
    with open(preds, "w") as f:
        for r in records:
            f.write(json.dumps(prediction_row(r, r["messages"][-1]["content"])) + "\n")

    out = tmp_path / "paper"
    assert main(["--predictions", str(preds), "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert all(res[n]["paper"] == 100 for n in BENCH.split(","))
    assert res["blurb_paper"] == 100 and "official" not in res["gad"]

    out = tmp_path / "official"
    assert main(["--predictions", str(preds), "--out", str(out), "--benchmarks", BENCH, "--data-dir", str(EVAL),
                 "--limit", "40"]) == 0
    res = json.loads((out / "results.json").read_text())
    for name in ("ddi", "gad", "hoc", "pubmedqa", "blue_hoc", "bc5chem"):
        assert res[name]["official"] == 100 and res[name]["paper"] == 100, name
    assert res["gad"]["n"] == 40 and res["gad"]["unparsed"] == 0 and res["gad"]["metric"] == "micro F1 without '0'"
    assert res["jnlpba"]["ceiling"] >= 99 and res["biosses"]["official"] < 100
    assert res["blurb_missing"] == ["bc5disease", "ncbi_disease", "bc2gm", "chemprot", "bioasq"]
    assert 95 < res["blurb"] <= 100
    for f in ("results.md", "results.csv", "results.png", "errors/ebm_pico.jsonl"):
        assert (out / f).stat().st_size > 0
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "| gad | 100.00 | 100.00 |" in (out / "results.md").read_text()


@needs_data
def test_errors_are_clear(tmp_path, capsys):
    assert main(["--benchmarks", "blurb,nope", "--data-dir", str(EVAL), "--export-prompts", str(tmp_path / "x")]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
    assert main(["--benchmarks", "ncbi_disease", "--data-dir", str(EVAL), "--export-prompts", str(tmp_path / "x")]) == 2
    assert "NCBI-disease/test.tsv not found" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt_id": "gad-test-00000", "prediction": "(A) yes"}\n{oops\n{"prompt_id": "b", "prediction": ""}\n')
    assert main(["--predictions", str(bad), "--out", str(tmp_path / "o"), "--benchmarks", "gad", "--data-dir",
                 str(EVAL)]) == 2
    assert "bad.jsonl:2: malformed prediction line" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "none"), "--benchmarks", "gad", "--data-dir", str(EVAL),
                 "--out", str(tmp_path / "o")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@needs_data
def test_missing_and_malformed_predictions_are_scored_wrong_and_counted(tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"prompt_id": "gad-test-00000", "prediction": "no idea"}) + "\n"
                     + json.dumps({"prompt_id": "gad-test-00001", "prediction": "(A) yes"}) + "\n")
    out = tmp_path / "o"
    assert main(["--predictions", str(preds), "--out", str(out), "--benchmarks", "gad", "--data-dir", str(EVAL),
                 "--limit", "4"]) == 0
    res = json.loads((out / "results.json").read_text())["gad"]
    assert res["n"] == 4 and res["missing"] == 2 and res["unparsed"] == 3
    assert res["official"] == pytest.approx(100 * 2 * 1 * 0.25 / 1.25)  # gold: yes ×4; one correct
