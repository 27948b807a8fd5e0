"""The compile-only planner: `mnlu train --compile-only --topology cpu:8` compiles the real step for 8 simulated
devices and reports memory and FLOPs; FLOPs of a scan_layers step equal the unrolled step's (cost_analysis counts
a scan body once); the largest batch that fits a given HBM; the generation step's plan; bad topology names list
the valid ones; with libtpu (`make tpu-venv`) the tiny model is planned for an abstract v5e-4 TPU topology with
the splash kernel counted analytically (skipped with the reason when .venv-tpu is absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from train_jax.plan import _compile, _flops, causal_block_fraction, find_max_batch, plan
from train_jax.plan_generate import kv_cache_bytes, plan_generation
from train_jax.topology import GIB, TopologyError, parse_topology
from train_jax.train_config import load_config

ROOT = Path(__file__).resolve().parents[2]
TPU_PY = ROOT / ".venv-tpu" / "bin" / "python"


def _plan(python: str, topology: str, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "plan.json"
    code = ("import sys; from train_jax.cli import train_main; sys.exit(train_main(sys.argv[1:]))")
    done = subprocess.run(
        [python, "-c", code, "--config", str(ROOT / "configs/tiny.yaml"), "--compile-only", "--topology", topology,
         "--json", str(out), "--per_device_train_batch_size", "2", "--max_seq_length", "256", "--loss_block_size", "128", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FLOPs/step" in done.stdout
    return json.loads(out.read_text())


def test_plan_on_simulated_cpu_devices(tmp_path):
    p = _plan(sys.executable, "cpu:8", tmp_path)
    assert p["devices"] == 8 and p["mesh"]["fsdp"] == 8 and p["rows_per_step"] == 16
    assert p["memory_per_device"]["temp_gib"] > 0 and p["memory_per_device"]["argument_gib"] > 0
    f = p["flops"]
    assert f["count_method"].startswith("an unrolled 2-layer compile")  # two loss blocks: the scan is not trusted
    assert 0.5 < f["compiled_all_devices"] / f["model_6NT"] < 2.0
    assert f["kernel_analytic"] == 0 and f["executed"] == f["compiled_all_devices"]  # XLA attention on CPU


def _tiny(**overrides) -> object:
    args = []
    for k, v in {"max_seq_length": 256, "per_device_train_batch_size": 1, **overrides}.items():
        args += [f"--{k}", str(v)]
    return load_config(ROOT / "configs/tiny.yaml", args)


def test_scan_layers_flops_equal_the_unrolled_step():
    topo = parse_topology("cpu:8")
    scanned = _tiny(scan_layers="true", loss_block_size=64, **{"model.num_hidden_layers": 4})
    p = plan(scanned, topo)
    assert p["flops"]["count_method"].startswith("per layer from unrolled 1- and 2-layer compiles")
    unrolled = _tiny(scan_layers="false", loss_block_size=256, **{"model.num_hidden_layers": 4})
    from train_jax.trainer import _model_config

    truth = _flops(_compile(unrolled, _model_config(unrolled)[0], topo.devices())[0]) * 8
    assert p["flops"]["compiled_all_devices"] == pytest.approx(truth, rel=0.03)
    # what the planner corrects: cost_analysis of the scanned step itself counts one layer and one loss block
    assert p["flops"]["compiled_raw_cost_analysis_per_device"] * 8 < 0.7 * truth


def test_find_max_batch_confirms_the_edge_with_compiles():
    cfg = _tiny(per_device_train_batch_size=4)
    r = find_max_batch(cfg, "cpu:8", hbm_bytes=0.3 * GIB, say=lambda _: None)
    tried = {t["batch"]: t["fits"] for t in r["tried"]}
    assert r["max_batch"] >= 1 and tried[r["max_batch"]] is True and tried[r["max_batch"] + 1] is False
    assert len(tried) <= 5
    with pytest.raises(ValueError, match="--hbm-gib"):
        find_max_batch(cfg, "cpu:8")


def test_generation_plan_of_the_eval_step():
    cfg = _tiny()
    p = plan_generation(cfg, "cpu:8", batch=8, prompt_tokens=64, new_tokens=32, hbm_bytes=1 * GIB)
    weights = p["params"] * 4  # float32 weights (the tiny config's param_dtype)
    m = p["memory_per_device"]
    assert weights / 8 <= m["argument_gib"] * GIB < 0.2 * weights  # sharded over 8 devices (norms replicated)
    assert p["kv_cache_gib_whole_batch"] * GIB == kv_cache_bytes(_model(cfg), 8, 96, 4)
    assert m["temp_gib"] > 0 and p["fits"] is True
    big = plan_generation(cfg, "cpu:8", batch=64, prompt_tokens=64, new_tokens=32, hbm_bytes=1 * GIB)
    grown = big["memory_per_device"]["temp_gib"] - m["temp_gib"]
    # 8× the rows: each device holds 1/8 of the added cache and activations, not all of them (was 2.4× the cache)
    assert 0 < grown < 0.5 * (big["kv_cache_gib_whole_batch"] - p["kv_cache_gib_whole_batch"]), grown
    assert plan_generation(cfg, "cpu:8", batch=8, prompt_tokens=64, new_tokens=32, hbm_bytes=1e6)["fits"] is False


def _model(cfg):
    from train_jax.trainer import _model_config

    return _model_config(cfg)[0]


def test_causal_block_fraction():
    assert causal_block_fraction(2048, 4096, 512) == pytest.approx(10 / 16)
    assert causal_block_fraction(2048, None, 2048) == 1.0
    assert causal_block_fraction(4096, 1024, 512) == pytest.approx((1 + 2 + 3 + 3 * 5) / 64)


def test_bad_topology_lists_the_valid_ones():
    with pytest.raises(TopologyError, match="v6e-256"):
        parse_topology("v7-8")
    assert parse_topology("v5p-8").num_chips == 4  # v5p counts TensorCores
    assert parse_topology("v6e-256").num_chips == 256


@pytest.mark.skipif(not TPU_PY.exists(), reason="no .venv-tpu with libtpu (build it with `make tpu-venv`)")
def test_plan_on_an_abstract_tpu_topology(tmp_path):
    p = _plan(str(TPU_PY), "v5e-4", tmp_path, "--attention", "fused")
    assert p["platform"] == "tpu" and p["devices"] == 4 and p["fits"] is True
    assert p["hbm_gib"] == pytest.approx(15.75)
    assert p["ideal_step_s"] > 0
    f = p["flops"]  # the splash kernel is a custom call cost_analysis cannot see: counted analytically
    assert f["kernel_calls_per_layer"] > 0 and f["kernel_analytic"] > 0
    assert f["executed"] == pytest.approx(f["compiled_all_devices"] + f["kernel_analytic"])


LIBTPU_REFUSAL = ("RESOURCE_EXHAUSTED: Ran out of memory on HBM, the total memory required for HLO temporaries "
                  "(100.72G) exceeds available HBM (31.25G).")


def test_the_compilers_out_of_memory_refusal_is_a_does_not_fit_answer():
    """libtpu refuses to compile a program that cannot fit (seen at 7B generation batch 128 on v6e-8): the planner
    reads what it needed; any other compile error propagates unchanged."""
    import jax

    from train_jax.plan import CompileRefused, compile_or_refuse, refusal_of, refused_memory

    assert refusal_of(RuntimeError(LIBTPU_REFUSAL)) == (100.72 * 2**30, 31.25 * 2**30)
    assert refusal_of(RuntimeError("INVALID_ARGUMENT: something else")) is None

    class Lowered:  # stands in for jax's Lowered: its compile() raises what libtpu raised
        def __init__(self, error):
            self.error = error

        def compile(self):
            raise self.error

    with pytest.raises(CompileRefused) as info:
        compile_or_refuse(Lowered(jax.errors.JaxRuntimeError(LIBTPU_REFUSAL)))
    assert info.value.temp_bytes == 100.72 * 2**30
    memory, peak = refused_memory(info.value)
    assert memory["peak_gib"] == pytest.approx(100.72) and peak > info.value.hbm_bytes
    with pytest.raises(ValueError, match="other"):
        compile_or_refuse(Lowered(ValueError("other")))
    lowered = jax.jit(lambda x: x + 1).lower(jax.ShapeDtypeStruct((2,), "float32"))
    assert compile_or_refuse(lowered).memory_analysis() is not None
