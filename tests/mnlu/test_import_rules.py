"""`mnlu` never imports jax, torch, flax or the other packages of the project (design.md §1): every .py file of
the package (namespace folders such as demo_data included) is imported in a fresh interpreter and
`sys.modules` is checked afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("jax", "jaxlib", "flax", "optax", "orbax", "torch", "train_jax", "merge", "eval")

PROBE = """
import importlib, json, pathlib, sys
root = pathlib.Path("mnlu")
names = sorted(".".join(p.with_suffix("").parts).removesuffix(".__init__") for p in root.rglob("*.py"))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


def test_no_module_of_mnlu_pulls_in_jax_torch_or_the_other_packages():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"mnlu.build", "mnlu.cli_data", "mnlu.corpora.biored", "mnlu.formats.tabular", "mnlu.tokenizer",
            "mnlu.dataset_writer", "mnlu.demo_data._generate"} <= set(result["imported"])
    leaked = sorted(m for m in result["modules"] if m.split(".")[0] in FORBIDDEN)
    assert leaked == [], f"mnlu imported {leaked[:10]}"
