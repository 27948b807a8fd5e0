"""Results: `results.json`, the same table as markdown and CSV, a bar chart, and per-dataset error files.

Every file is written to a temporary name and renamed when complete. Figures are on a 0–100 scale; an undefined
figure (Pearson r of constant predictions) is `null` in JSON and `n/a` in the tables.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.benchmarks import BLURB_TASKS, DATASETS, SUITES

_UMASK = os.umask(0)
os.umask(_UMASK)
COLUMNS = ("dataset", "official", "paper", "metric", "n", "unparsed", "paper_unparsed", "ceiling", "missing")


def atomic_write(path: Path, data: bytes | str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 4)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def _mean(values: Sequence[float | None]) -> float | None:
    """Mean for a suite score; an undefined figure (Pearson r of constant predictions: no correlation shown)
    counts as 0 rather than voiding the suite."""
    vals = [0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]
    return sum(vals) / len(vals) if vals else None


def suite_scores(results: Mapping[str, Mapping[str, Any]], key: str) -> dict[str, Any]:
    """BLURB: the mean of the six task means; BLUE: the mean over its datasets. Computed over the datasets in
    `results`; a suite with datasets missing is reported with `<suite>_missing` listing them."""
    out: dict[str, Any] = {}
    suffix = "" if key == "official" else f"_{key}"
    for suite, names in SUITES.items():
        present = [n for n in names if n in results and key in results[n]]
        if not present:
            continue
        if suite == "blurb":
            task_means = []
            for task in BLURB_TASKS:
                in_task = [results[n][key] for n in present if DATASETS[n].task == task]
                if in_task:
                    task_means.append(_mean(in_task))
            out[suite + suffix] = _mean(task_means) if task_means else None
        else:
            out[suite + suffix] = _mean([results[n][key] for n in present])
        missing = [n for n in names if n not in results]
        if missing and key == "official":
            out[f"{suite}_missing"] = missing
    return out


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.2f}" if isinstance(x, float) else str(x)


def table_rows(results: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    return [[name] + [_fmt(entry.get(c)) for c in COLUMNS[1:]] for name, entry in results.items()]


def write_report(out: Path, results: Mapping[str, dict[str, Any]], errors: Mapping[str, list[dict]]) -> dict:
    """Write every report file under `out`; returns the JSON written."""
    out = Path(out)
    summary: dict[str, Any] = {name: _clean(entry) for name, entry in results.items()}
    summary.update(_clean(suite_scores(results, "official")))
    summary.update(_clean(suite_scores(results, "paper")))
    atomic_write(out / "results.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")

    rows = table_rows(results)
    suites = [(k, v) for k, v in summary.items() if k in ("blurb", "blue", "blurb_paper", "blue_paper")]
    md = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += [""] + [f"**{k}**: {_fmt(v)}" for k, v in suites]
    atomic_write(out / "results.md", "\n".join(md) + "\n")

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    for k, v in suites:
        writer.writerow([k, _fmt(v)] + [""] * (len(COLUMNS) - 2))
    atomic_write(out / "results.csv", buf.getvalue())

    for name, errs in errors.items():
        atomic_write(out / "errors" / f"{name}.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n"
                                                             for e in errs))
    _bar_chart(out / "results.png", results)
    return summary


def _bar_chart(path: Path, results: Mapping[str, Mapping[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results)
    def val(n: str, k: str) -> float:
        v = results[n].get(k)
        return 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4), dpi=100)
    ax.bar(x - 0.2, [val(n, "official") for n in names], 0.4, label="official")
    ax.bar(x + 0.2, [val(n, "paper") for n in names], 0.4, label="paper-style")
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("score (0-100)")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write(path, buf.getvalue())
