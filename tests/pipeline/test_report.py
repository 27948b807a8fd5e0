"""The pipeline's side-by-side report: parse rates from the scorers' counts, per dataset and per task, BLURB per
model, the same bytes for the same results, and no timing or path in results.md."""

from __future__ import annotations

import json

from pipeline.report import (
    collect,
    models_plot,
    parse_rate,
    results_markdown,
    task_parse_rates,
    timings_markdown,
)


def _results(official: float, unparsed: int) -> dict:
    return {
        "bc5chem": {"official": official, "paper": official / 2, "metric": "entity F1", "task": "NER", "n": 10,
                    "unparsed": unparsed},
        "ncbi_disease": {"official": 0.0, "paper": 0.0, "metric": "entity F1", "task": "NER", "n": 30,
                         "unparsed": 30},
        "gad": {"official": 50.0, "paper": 40.0, "metric": "micro F1", "task": "RE", "n": 4, "unparsed": 1},
        "blurb": official / 3, "blurb_paper": 1.0, "blurb_missing": ["bioasq"],
    }


def _write(root, model, results):
    d = root / "eval" / model / "demo"
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps(results))


def test_side_by_side_table_parse_rates_and_aggregates(tmp_path):
    _write(tmp_path, "base", _results(0.0, 10))
    _write(tmp_path, "finetuned", _results(80.0, 1))
    _write(tmp_path, "merged", _results(60.0, 2))
    models = ["base", "finetuned", "merged"]
    collected = collect(tmp_path / "eval", models, ["demo", "shared"])
    assert list(collected) == ["demo"]  # a set never evaluated is left out
    text = results_markdown(collected, models, {"demo": "made-up sets"})
    assert text == results_markdown(collect(tmp_path / "eval", models, ["demo"]), models, {"demo": "made-up sets"})
    assert "| bc5chem | NER | entity F1 | 10 | 0.00 / 80.00 / 60.00 | 0.00 / 40.00 / 30.00 | 0 / 90 / 80 |" in text
    assert "| NER | 0.0 | 22.5 | 20.0 |" in text  # 9 of 40 and 8 of 40 NER records parse
    assert "| BLURB (official) | 0.00 | 26.67 | 20.00 |" in text and "bioasq" in text
    assert " s |" not in text and str(tmp_path) not in text
    assert parse_rate({"n": 4, "unparsed": 1}) == 75.0 and parse_rate({"n": 0, "unparsed": 0}) is None
    assert task_parse_rates(collected["demo"]["merged"]) == {"NER": 20.0, "RE": 75.0}
    models_plot(tmp_path / "models.png", collected, models)
    assert (tmp_path / "models.png").read_bytes()[:4] == b"\x89PNG"


def test_timings_live_in_their_own_file():
    text = timings_markdown({"data": (3.25, True), "train": (120.0, False)}, {"step": 200, "seconds": 118.2,
                            "final_loss": 1.5}, 130.0)
    assert "| data | 3.2 s | 3.2 s |" in text and "| train | skipped (complete) | 120.0 s |" in text
    assert "200 steps in 118.2 s" in text
