"""The compile-only planner: `mnlu train --compile-only --topology cpu:8` compiles the real step for 8 simulated
devices and reports memory and FLOPs; bad topology names list the valid ones; with libtpu (`make tpu-venv`)
the tiny model is planned for an abstract v5e-4 TPU topology (skipped with the reason when .venv-tpu is absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from train_jax.topology import TopologyError, parse_topology

ROOT = Path(__file__).resolve().parents[2]
TPU_PY = ROOT / ".venv-tpu" / "bin" / "python"


def _plan(python: str, topology: str, tmp_path: Path) -> dict:
    out = tmp_path / "plan.json"
    code = ("import sys; from train_jax.cli import train_main; sys.exit(train_main(sys.argv[1:]))")
    done = subprocess.run(
        [python, "-c", code, "--config", str(ROOT / "configs/tiny.yaml"), "--compile-only", "--topology", topology,
         "--json", str(out), "--per_device_train_batch_size", "2", "--max_seq_length", "256", "--loss_block_size", "128"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FLOPs/step" in done.stdout
    return json.loads(out.read_text())


def test_plan_on_simulated_cpu_devices(tmp_path):
    p = _plan(sys.executable, "cpu:8", tmp_path)
    assert p["devices"] == 8 and p["mesh"]["fsdp"] == 8 and p["rows_per_step"] == 16
    assert p["memory_per_device"]["temp_gib"] > 0 and p["memory_per_device"]["argument_gib"] > 0
    f = p["flops"]
    assert f["count_method"].startswith("an unrolled compile")  # two loss blocks: the scan is not trusted
    assert 0.5 < f["compiled_all_devices"] / f["model_6NT"] < 2.0


def test_bad_topology_lists_the_valid_ones():
    with pytest.raises(TopologyError, match="v6e-256"):
        parse_topology("v7-8")
    assert parse_topology("v5p-8").num_chips == 4  # v5p counts TensorCores
    assert parse_topology("v6e-256").num_chips == 256


@pytest.mark.skipif(not TPU_PY.exists(), reason="no .venv-tpu with libtpu (build it with `make tpu-venv`)")
def test_plan_on_an_abstract_tpu_topology(tmp_path):
    p = _plan(str(TPU_PY), "v5e-4", tmp_path)
    assert p["platform"] == "tpu" and p["devices"] == 4 and p["fits"] is True
    assert p["hbm_gib"] == pytest.approx(15.75)
    assert p["ideal_step_s"] > 0
