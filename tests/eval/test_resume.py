"""The predictions log: a run killed midway and restarted ends with exactly one prediction per prompt, no prompt
generated twice (after it was recorded) and none lost; a torn last line is repaired; malformed files are errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval.backends.store import PredictionLog, read_predictions, run_generation
from mnlu.formats.errors import FormatError
from mnlu.prompts import multiple_choice

REPO = Path(__file__).resolve().parents[2]


def records(n: int) -> list[dict]:
    return [multiple_choice(f"t-test-{i:05d}", f"Question {i}?", ["yes", "no"], i % 2, type_="t", task="QA")
            for i in range(n)]


def deterministic(recs):
    return [f"(A) yes {r['prompt_id']}" for r in recs]


class Crash(RuntimeError):
    pass


def test_crash_midway_then_resume_generates_each_prompt_once(tmp_path):
    recs = records(23)
    path = tmp_path / "p.jsonl"
    calls: list[str] = []

    def crashing(batch):
        if len(calls) >= 10:
            raise Crash
        calls.extend(r["prompt_id"] for r in batch)
        return deterministic(batch)

    with pytest.raises(Crash):
        run_generation(recs, crashing, path, batch_size=4, progress=False)
    assert len(read_predictions(path)) == 12  # three full batches were recorded before the crash

    resumed: list[str] = []

    def counting(batch):
        resumed.extend(r["prompt_id"] for r in batch)
        return deterministic(batch)

    rows = run_generation(recs, counting, path, batch_size=4, progress=False)
    assert set(resumed).isdisjoint(calls[:12]) and len(resumed) == 11
    on_disk = read_predictions(path)
    assert sorted(r["prompt_id"] for r in on_disk) == [r["prompt_id"] for r in recs]
    assert [r["prediction"] for r in rows] == deterministic(recs)
    assert rows[3]["reference"] == "(B) no" and rows[3]["task"] == "QA"
    # A third run generates nothing.
    assert run_generation(recs, lambda b: pytest.fail("nothing left to generate"), path, progress=False) == rows


def test_torn_last_line_is_cut_and_regenerated(tmp_path):
    recs = records(5)
    path = tmp_path / "p.jsonl"
    run_generation(recs[:3], deterministic, path, batch_size=2, progress=False)
    with open(path, "ab") as f:
        f.write(b'{"prompt_id": "t-test-00003", "predic')  # crash in the middle of a write
    with pytest.raises(FormatError, match=r"p.jsonl:4: malformed prediction line"):
        read_predictions(path)  # scoring such a file is an error ...
    rows = run_generation(recs, deterministic, path, batch_size=2, progress=False)  # ... resuming repairs it
    assert [r["prompt_id"] for r in read_predictions(path)] == [r["prompt_id"] for r in recs]
    assert [r["prediction"] for r in rows] == deterministic(recs)


def test_malformed_middle_line_and_duplicates_are_errors(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt_id": "a", "prediction": "x"}\nnot json\n{"prompt_id": "b", "prediction": "y"}\n')
    with pytest.raises(FormatError, match=r"p.jsonl:2: malformed prediction line"):
        PredictionLog(path)
    path.write_text('{"prompt_id": "a"}\n')
    with pytest.raises(FormatError, match=r"p.jsonl:1: missing field\(s\) \['prediction'\]"):
        read_predictions(path)
    recs = records(2)
    with pytest.raises(ValueError, match="duplicate prompt_id"):
        run_generation(recs + recs[:1], deterministic, tmp_path / "q.jsonl", progress=False)


_CHILD = """
import sys, time
from eval.backends.store import run_generation
from tests.eval.test_resume import records, deterministic
def slow(batch):
    time.sleep(0.15)
    return deterministic(batch)
run_generation(records(40), slow, sys.argv[1], batch_size=3, progress=False)
"""


def test_process_killed_midway_then_restarted(tmp_path):
    path = tmp_path / "p.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], cwd=REPO, env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if path.exists() and path.read_text().count("\n") >= 9:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the child process wrote nothing in 60 s")
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    before = read_predictions(path, repair=True)
    assert 9 <= len(before) < 40
    resumed: list[str] = []

    def counting(batch):
        resumed.extend(r["prompt_id"] for r in batch)
        return deterministic(batch)

    run_generation(records(40), counting, path, batch_size=3, progress=False)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    ids = [r["prompt_id"] for r in lines]
    assert sorted(ids) == [r["prompt_id"] for r in records(40)]  # exactly one per prompt
    assert not set(resumed) & {r["prompt_id"] for r in before}
