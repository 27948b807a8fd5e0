"""The pipeline drives the other packages only through their entry points (issue 13.3); which packages it may
import is a row of the table in tests/test_import_rules.py."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_stage_runs_code_from_a_string():
    """Stages start real module entry points (`python -m ...`), never `python -c` strings."""
    for path in (REPO / "pipeline").rglob("*.py"):
        assert '"-c"' not in path.read_text(), f"{path} runs a `python -c` string"
