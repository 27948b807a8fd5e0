"""`mnlu pipeline`: every stage for real on a small configuration; killed mid-training and run again, it skips the
finished stages and ends with the same merged model and results as an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline.config import PipelineError, load_pipeline_config
from pipeline.run import main

REPO = Path(__file__).resolve().parents[2]


def _config(tmp: Path, run_dir: Path) -> Path:
    cfg = {
        "run_dir": str(run_dir),
        "data": {"raw": "demo", "max_seq_length": 256, "corpora": ["snli", "stsb", "mtsamples"]},
        "base": {"model": "tiny"},
        "train": {
            "config": str(REPO / "configs" / "tiny.yaml"),
            "devices": 2,
            "overrides": {"max_steps": 6, "num_train_epochs": 1, "max_seq_length": 256,
                          "per_device_train_batch_size": 1, "save_strategy": "steps", "save_steps": 1,
                          "save_total_limit": 2, "mesh": {"data": 1, "fsdp": 2, "tensor": 1}, "report_to": []},
        },
        "export": {"dtype": "float32"},
        "merge": {"method": "dare_linear", "drop_rate": 0.2, "weight": 0.5, "rescale": True, "rng": "mergelm", "seed": 0},
        "eval": {"models": ["base", "merged"], "backend": "jax", "max_new_tokens": 4, "batch_size": 2,
                 "demo": {"data_dir": "demo", "benchmarks": "gad,hoc", "limit": 2}},
    }
    path = tmp / f"{run_dir.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _fingerprint(run_dir: Path) -> dict[str, str]:
    """Hashes of every merged tensor's bytes and of the results' figures (file metadata names the run's paths)."""
    from train_jax.safetensors_io import CheckpointFiles

    merged = CheckpointFiles(run_dir / "merged")
    out = {name: hashlib.sha256(merged.read(name).tobytes()).hexdigest() for name in merged.names()}
    for model in ("base", "merged"):
        results = json.loads((run_dir / "eval" / model / "demo" / "results.json").read_text())
        out[f"{model}/results.json"] = hashlib.sha256(json.dumps(results, sort_keys=True).encode()).hexdigest()
    out["results.md"] = hashlib.sha256((run_dir / "results.md").read_bytes()).hexdigest()  # timings kept apart
    return out


def _run(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnlu.cli", "pipeline", "--config", str(config), "--no-progress"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_pipeline_resumes_after_a_kill_with_the_same_results(tmp_path):
    clean = _config(tmp_path, tmp_path / "clean")
    done = _run(clean)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reference = _fingerprint(tmp_path / "clean")
    table = (tmp_path / "clean" / "results.md").read_text()
    assert table.count("| gad |") == 1 and "base / merged" in table and str(tmp_path) not in table
    assert "| train |" in (tmp_path / "clean" / "timings.md").read_text()
    for png in ("loss.png", "models.png"):
        assert (tmp_path / "clean" / png).read_bytes()[:4] == b"\x89PNG"

    killed = _config(tmp_path, tmp_path / "killed")
    proc = subprocess.Popen([sys.executable, "-m", "mnlu.cli", "pipeline", "--config", str(killed), "--no-progress"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ckpts = tmp_path / "killed" / "train" / "checkpoints"
    deadline = time.time() + 600
    while time.time() < deadline and not (ckpts.is_dir() and any(p.name.isdigit() and int(p.name) >= 2
                                                                  for p in ckpts.iterdir())):
        assert proc.poll() is None, "the pipeline ended before it could be killed"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / ".pipeline" / "train.json").exists()

    again = _run(killed)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "data: complete, skipped" in again.stdout and "base: complete, skipped" in again.stdout
    assert _fingerprint(tmp_path / "killed") == reference

    third = _run(killed)  # everything complete: nothing runs again
    assert third.returncode == 0 and third.stdout.count("complete, skipped") == 6


def test_unknown_pipeline_keys_are_errors_that_list_the_valid_ones(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "r"), "train": {"config": "x", "epochs": 2}}))
    with pytest.raises(PipelineError, match=r"unknown key\(s\) \['epochs'\] in 'train'; valid: \['config', 'devices'"):
        load_pipeline_config(path)
    assert main(["--config", str(path)]) == 2
    assert "unknown key(s) ['epochs']" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2


@pytest.mark.parametrize("cfg, message", [
    ({"data": {}}, r"'run_dir' is required"),
    ({"run_dir": "r", "merge": {"drop_rate": "high"}}, r"'merge.drop_rate' must be a number, got 'high'"),
    ({"run_dir": "r", "train": {"devices": 2.5}}, r"'train.devices' must be an integer, got 2.5"),
    ({"run_dir": "r", "merge": {"rescale": "yes"}}, r"'merge.rescale' must be true or false"),
    ({"run_dir": "r", "train": {"overrides": [1]}}, r"'train.overrides' must be a mapping"),
    ({"run_dir": "r", "eval": {"demo": {"limt": 2}}}, r"unknown key\(s\) \['limt'\] in 'eval.demo'"),
    ({"run_dir": "r", "epochs": 2}, r"unknown key\(s\) \['epochs'\]; valid: \['base', 'data'"),
    ({"run_dir": "r", "data": {"corpora": [1]}}, r"'data.corpora' must be a list of strings"),
])
def test_typed_config_errors_name_the_file_and_the_dotted_key(tmp_path, cfg, message):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(PipelineError, match=str(path).replace(".", r"\.") + ": .*" + message):
        load_pipeline_config(path)


def test_config_values_are_typed_with_defaults():
    cfg = load_pipeline_config(REPO / "configs" / "demo.yaml")
    assert cfg.merge.drop_rate == 0.2 and isinstance(cfg.merge.seed, int) and cfg.merge.rescale is True
    assert cfg.eval.demo is not None and cfg.eval.demo.data_dir == "demo"
    assert isinstance(cfg.train.overrides, dict) and cfg.train.config.endswith(".yaml")


def _stage_fingerprints(cfg_path: Path) -> dict[str, str]:
    from pipeline.run import STAGES, Pipeline

    pipe = Pipeline(load_pipeline_config(cfg_path), cfg_path, progress=False)
    for stage in STAGES:
        pipe.fingerprints[stage] = pipe.fingerprint(stage)
    return dict(pipe.fingerprints)


def test_editing_the_training_recipe_reruns_train_and_every_later_stage(tmp_path):
    """Issue 13: a stage's fingerprint covers the recipe's contents (configs/tiny.yaml read from the pipeline
    config), so a new learning rate is never answered with the old model's results."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text((REPO / "configs" / "tiny.yaml").read_text())
    cfg = yaml.safe_load(_config(tmp_path, tmp_path / "run").read_text())
    cfg["train"]["config"] = str(recipe)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    before = _stage_fingerprints(path)
    assert _stage_fingerprints(path) == before
    recipe.write_text(recipe.read_text().replace("learning_rate: 1.0e-3", "learning_rate: 2.0e-3"))
    after = _stage_fingerprints(path)
    assert {s for s in before if before[s] == after[s]} == {"data", "base"}
