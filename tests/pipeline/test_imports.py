"""The pipeline drives the other packages only through their entry points (issue 13.3): importing every module of
`pipeline` in a fresh interpreter pulls in no jax, torch, train_jax, merge or eval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("jax", "jaxlib", "flax", "optax", "orbax", "torch", "train_jax", "merge", "eval")

PROBE = """
import importlib, json, pathlib, sys
names = sorted(".".join(p.with_suffix("").parts).removesuffix(".__init__") for p in pathlib.Path("pipeline").rglob("*.py"))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


def test_no_module_of_pipeline_pulls_in_jax_torch_or_the_packages_it_drives():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"pipeline.config", "pipeline.run", "pipeline.stages"} <= set(result["imported"])
    leaked = sorted(m for m in result["modules"] if m.split(".")[0] in FORBIDDEN)
    assert leaked == [], f"pipeline imported {leaked[:10]}"


def test_no_stage_runs_code_from_a_string():
    """Stages start real module entry points (`python -m ...`), never `python -c` strings."""
    for path in (REPO / "pipeline").rglob("*.py"):
        assert '"-c"' not in path.read_text(), f"{path} runs a `python -c` string"
