"""Exact resume: a run stopped by SIGTERM (save-on-signal) and then by SIGKILL (at a random step) and restarted
each time ends with parameters bit-identical to an uninterrupted run of the same length."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from mnlu.prompts import SpanType, multiple_choice, span_extraction
from train_jax.checkpoint import find_step_dir, param_names, read_param

REPO = Path(__file__).resolve().parents[2]
MAX_STEPS = 10
RESUME_SEED = 20261206  # picks the SIGTERM and SIGKILL steps


def write_records(path: Path, n: int = 24, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    words = ["fever", "cough", "aspirin", "no", "pain", "daily", "mg", "rash", "denies", "insulin"]
    out = []
    for i in range(n):
        text = " ".join(rng.choice(words, size=int(rng.integers(4, 30))))
        if i % 2:
            out.append(multiple_choice(f"r{i}", "Is it negated?", ["affirmed", "negated"], int(rng.integers(2)),
                                       type_="assertion", text=text))
        else:
            drug = str(rng.choice(["aspirin", "insulin"]))
            out.append(span_extraction(f"r{i}", text, [SpanType("Drug")], {"Drug": [drug]}, type_="ner"))
    path.write_text("".join(json.dumps(r) + "\n" for r in out))
    return path


def write_recipe(tmp: Path, output_dir: Path, data: Path, **extra) -> Path:
    recipe = {
        "model": {"vocab_size": 32000, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                  "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "init_seed": 3},
        "dataset_mixer": {str(data): 1.0}, "output_dir": str(output_dir), "max_seq_length": 256,
        "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1, "learning_rate": 3e-3,
        "lr_scheduler_type": "cosine", "warmup_ratio": 0.2, "weight_decay": 0.01, "max_steps": MAX_STEPS,
        "save_strategy": "steps", "save_steps": 2, "logging_steps": 1, "disable_tqdm": True, "seed": 5,
        "compilation_cache_dir": str(tmp / "xla_cache"),
    }
    recipe.update(extra)
    path = output_dir.parent / f"{output_dir.name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def child_env(devices: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return env


def start(recipe: Path, devices: int = 2, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "train_jax.cli", "--config", str(recipe), *extra],
                            cwd=REPO, env=child_env(devices), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def logged_step(output_dir: Path) -> int:
    path = output_dir / "metrics.jsonl"
    if not path.is_file():
        return 0
    steps = [json.loads(x).get("step", 0) for x in path.read_text().splitlines() if x.strip() and '"loss"' in x]
    return max(steps, default=0)


def stop_at(proc: subprocess.Popen, output_dir: Path, step: int, sig: int, timeout: float = 300) -> tuple[int, str]:
    """Send `sig` once the run has logged `step`."""
    t = time.monotonic()
    while logged_step(output_dir) < step:
        if proc.poll() is not None:
            raise AssertionError(f"run ended before step {step}:\n{proc.stdout.read()}")
        if time.monotonic() - t > timeout:
            proc.kill()
            raise AssertionError(f"no step {step} within {timeout}s")
        time.sleep(0.05)
    proc.send_signal(sig)
    return finish(proc)


def final_params(output_dir: Path) -> dict[str, np.ndarray]:
    step_dir = find_step_dir(output_dir)
    assert step_dir.name == str(MAX_STEPS), step_dir
    return {name: read_param(step_dir, name) for name in param_names(step_dir)}


def assert_bit_identical(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), f"{name}: max |Δ| {np.abs(a[name] - b[name]).max():.3e}"


_REFERENCE: dict[str, tuple] = {}


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory):
    """One uninterrupted single-process run (2 devices), shared by the resume and multi-process tests (the module
    cache makes it run once even though test_multiprocess imports this fixture as its own)."""
    if "run" not in _REFERENCE:
        _REFERENCE["run"] = _reference(tmp_path_factory)
    return _REFERENCE["run"]


def _reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    data = write_records(tmp / "data.jsonl")
    ref_dir = tmp / "reference"
    code, out = finish(start(write_recipe(tmp, ref_dir, data)))
    assert code == 0, out
    assert "1 process(es)" in out
    return tmp, data, final_params(ref_dir)


@pytest.mark.slow
def test_sigterm_then_sigkill_resume_bit_identical(reference_run, tmp_path):
    cache_root, data, reference = reference_run
    run_dir = tmp_path / "interrupted"
    recipe = write_recipe(cache_root, run_dir, data)  # shares the reference's compilation cache
    # The stop steps come from a fixed seed (MNLU_RESUME_SEED picks others); every failure message names it.
    seed = int(os.environ.get("MNLU_RESUME_SEED", RESUME_SEED))
    rng = np.random.default_rng(seed)
    term_at = int(rng.integers(2, 5))
    print(f"resume test: MNLU_RESUME_SEED={seed}, SIGTERM at step {term_at}")
    code, out = stop_at(start(recipe), run_dir, term_at, signal.SIGTERM)
    where = f"(MNLU_RESUME_SEED={seed}, SIGTERM at step {term_at})"
    assert code == 143, f"{where}\n{out}"  # saved on the signal, then stopped
    saved = find_step_dir(run_dir).name
    assert int(saved) >= term_at and "SIGTERM" in out, f"{where}\n{out}"

    kill_at = int(rng.integers(int(saved) + 1, MAX_STEPS))
    where = f"(MNLU_RESUME_SEED={seed}, SIGTERM at step {term_at}, SIGKILL at step {kill_at})"
    print(f"resume test: SIGKILL at step {kill_at}")
    code, out = stop_at(start(recipe), run_dir, kill_at, signal.SIGKILL)
    assert code == -signal.SIGKILL, f"{where}\n{out}"
    code, out = finish(start(recipe))
    assert code == 0, f"{where}\n{out}"
    assert "resumed from" in out, where
    assert_bit_identical(final_params(run_dir), reference)
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert steps == list(range(1, MAX_STEPS + 1)), where  # replayed steps are logged once
