"""The training recipe: paper keys as written, JAX keys, command-line overrides, clear errors before any compile."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mnlu.prompts import CHAT_TEMPLATE
from train_jax.train_config import (
    HF_ONLY_KEYS,
    KEYS,
    TrainConfigError,
    from_dict,
    load_config,
    parse_overrides,
    resolved_target_capacity,
)

REPO = Path(__file__).resolve().parents[2]


def _minimal(**extra):
    return {"model": {"vocab_size": 32000, "hidden_size": 32}, "dataset_mixer": {"x.jsonl": 1.0},
            "output_dir": "out", **extra}


def test_paper_recipe_loads_with_paper_values():
    cfg = load_config(REPO / "configs" / "biomistral_nlu.yaml")
    assert cfg.learning_rate == 2e-5 and cfg.lr_scheduler_type == "cosine" and cfg.warmup_ratio == 0.1
    assert cfg.num_train_epochs == 2 and cfg.per_device_train_batch_size == 16
    assert cfg.gradient_accumulation_steps == 1 and cfg.max_seq_length == 2048 and cfg.seed == 42
    assert cfg.gradient_checkpointing and cfg.remat == "full" and cfg.bf16 and cfg.compute == "bfloat16"
    assert cfg.param_dtype == "float32"  # fp32 master weights whatever torch_dtype says
    assert cfg.save_strategy == "epoch" and cfg.save_total_limit == 3
    assert cfg.logging_steps == 5 and cfg.reporters == ["tensorboard"]
    assert cfg.chat_template == CHAT_TEMPLATE
    fractions = {Path(k).name: v for k, v in cfg.dataset_mixer.items()}
    assert fractions["snli"] == 0.03 and fractions["multinli"] == 0.03
    assert fractions["i2b2_2011_coref"] == 0.24 and len(cfg.dataset_mixer) >= 30
    assert sorted(set(fractions.values())) == [0.03, 0.24, 1.0]
    # HF-only keys of the recipe are accepted with a one-line note each
    assert any("use_flash_attention_2" in n for n in cfg.notes)
    assert any("hub_strategy" in n for n in cfg.notes)


def test_tiny_config_is_complete():
    cfg = load_config(REPO / "configs" / "tiny.yaml")
    assert cfg.model["vocab_size"] == 32000 and cfg.model["head_dim"] == 128
    assert cfg.data_build and cfg.dataset_mixer and cfg.output_dir


def test_unknown_key_lists_valid_keys():
    with pytest.raises(TrainConfigError) as e:
        from_dict(_minimal(learning_rat=1e-5), "recipe.yaml")
    msg = str(e.value)
    assert "recipe.yaml" in msg and "learning_rat" in msg and "learning_rate" in msg and "per_device_train_batch_size" in msg


def test_every_hf_only_key_is_accepted_with_a_note():
    cfg = from_dict(_minimal(**{k: True for k in HF_ONLY_KEYS}))
    assert len(cfg.notes) == len(HF_ONLY_KEYS)
    assert all(n.count("\n") == 0 for n in cfg.notes)


@pytest.mark.parametrize(
    "extra, needle",
    [
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"lr_scheduler_type": "polynomial"}, "lr_scheduler_type"),
        ({"fp16": True}, "fp16"),
        ({"mesh": {"fsdp": -1, "tensor": -1}}, "-1"),
        ({"mesh": {"pipeline": 2}}, "pipeline"),
        ({"dataset_mixer": {"a.jsonl": 1.5}}, "dataset_mixer"),
        ({"chat_template": "{{ messages }}"}, "chat_template"),
        ({"remat_policy": "sometimes"}, "remat_policy"),
        ({"optim": "sgd"}, "optim"),
        ({"model": {"hidden_sise": 3}}, "hidden_sise"),
        ({"loss_target_capacity": "most"}, "loss_target_capacity"),
        ({"loss_target_capacity": -2}, "loss_target_capacity"),
        ({"loss_target_group_rows": 0}, "loss_target_group_rows"),
        ({"loss_target_group_rows": 3, "per_device_train_batch_size": 4}, "divisor of per_device_train_batch_size"),
    ],
)
def test_bad_values_name_the_key(extra, needle):
    with pytest.raises(TrainConfigError, match=needle):
        from_dict(_minimal(**extra))


def test_auto_target_capacity_rounds_the_data_maximum_up_to_64_or_is_dense():
    cfg = from_dict(_minimal(loss_target_capacity="auto", max_seq_length=512))
    assert [resolved_target_capacity(cfg, n) for n in (0, 64, 65, 449, 500)] == [64, 64, 128, 0, 0]  # 0: dense
    assert resolved_target_capacity(cfg) == 0  # no data (the planner): every position may be a target
    assert resolved_target_capacity(from_dict(_minimal(loss_target_capacity=96)), 500) == 96
    grouped = from_dict(_minimal(loss_target_capacity="auto", max_seq_length=512, loss_target_group_rows=4,
                                 per_device_train_batch_size=4))
    assert [resolved_target_capacity(grouped, n) for n in (449, 1900, 2048)] == [512, 1920, 0]  # dense: 4 × 512


def test_model_source_is_exactly_one():
    data = _minimal(model_name_or_path="/some/dir")
    with pytest.raises(TrainConfigError, match="exactly one"):
        from_dict(data)


def test_command_line_overrides_any_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_minimal(learning_rate=1e-4, mesh={"fsdp": -1})))
    cfg = load_config(path, ["--learning_rate", "3e-5", "--mesh.tensor", "2", "--report_to=tensorboard",
                             "--gradient_checkpointing", "true", "--max-steps", "7"])
    assert cfg.learning_rate == 3e-5 and cfg.mesh == {"data": 1, "fsdp": -1, "tensor": 2}
    assert cfg.report_to == ["tensorboard"] and cfg.remat == "full" and cfg.max_steps == 7
    with pytest.raises(TrainConfigError, match="warmup_ratioo"):
        load_config(path, ["--warmup_ratioo", "0.1"])
    with pytest.raises(TrainConfigError, match="needs a value"):
        parse_overrides(["--seed"])


def test_keys_cover_the_alignment_handbook_recipe():
    recipe = ["model_name_or_path", "torch_dtype", "chat_template", "dataset_mixer", "dataset_splits",
              "learning_rate", "lr_scheduler_type", "warmup_ratio", "num_train_epochs", "max_steps",
              "per_device_train_batch_size", "gradient_accumulation_steps", "gradient_checkpointing",
              "max_seq_length", "seed", "output_dir", "save_strategy", "save_steps", "save_total_limit",
              "logging_steps", "report_to", "bf16"]
    assert set(recipe) <= set(KEYS)


def _cli(args, cwd, timeout=120):
    env = {"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "train_jax.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _write_recipe(tmp_path, **extra):
    data = _minimal(**extra)
    data["output_dir"] = str(tmp_path / "out")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_unknown_key_fails_fast(tmp_path):
    t = time.perf_counter()
    done = _cli(["--config", str(_write_recipe(tmp_path)), "--bogus_key", "1"], tmp_path)
    assert done.returncode == 2 and "bogus_key" in done.stderr and "valid keys" in done.stderr
    assert time.perf_counter() - t < 60


def test_cli_missing_dataset_fails_before_compiling(tmp_path):
    path = _write_recipe(tmp_path, dataset_mixer={"no/such/corpus": 1.0})
    done = _cli(["--config", str(path)], tmp_path)
    assert done.returncode == 2 and "no/such/corpus" in done.stderr and "does not exist" in done.stderr
    assert "compiled" not in done.stdout


def test_cli_record_without_answer_fails_before_compiling(tmp_path):
    import json

    from mnlu.prompts import multiple_choice

    good = multiple_choice("a1", "Q?", ["yes", "no"], 0, type_="t", text="x")
    bad = multiple_choice("a2", "Q?", ["yes", "no"], None, type_="t", text="x")
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    done = _cli(["--config", str(_write_recipe(tmp_path, dataset_mixer={str(data): 1.0}))], tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"{data}:2" in done.stderr and "no assistant turn" in done.stderr
    assert "compiled" not in done.stdout
    assert "Q?" not in done.stderr  # never the text itself


def test_a_fraction_applied_by_the_build_is_not_applied_twice(tmp_path, capsys):
    """The paper's recipe and `mnlu data build` both carry SNLI 0.03: the build's cut is not repeated."""
    import json

    from mnlu import prompts
    from train_jax.data_sources import DataError, iter_source, resolve_mixer

    root = tmp_path / "built"
    group = root / "train" / "NLI"
    group.mkdir(parents=True)
    rows = [prompts.nli(f"NLI/snli/train/{i}/0", f"premise {i}", f"hypothesis {i}", "neutral") for i in range(10)]
    (group / "snli.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stats = {"config": {"corpora": {"snli": {"fraction": {"NLI": 0.03}, "path": None}}}}
    (root / "stats.json").write_text(json.dumps(stats))

    same = resolve_mixer({str(group / "snli"): 0.03})
    assert [s.fraction for s in same] == [1.0]
    assert len(list(iter_source(same[0]))) == 10
    assert "already cut to 0.03" in capsys.readouterr().err
    assert len(list(iter_source(resolve_mixer({str(group / "snli"): 1.0})[0]))) == 10
    with pytest.raises(DataError, match=r"already cut to 0.03 .* a mixer fraction of 0.5 would cut it again"):
        resolve_mixer({str(group / "snli"): 0.5})


def test_hf_save_strategy_no_survives_yaml_1_1():
    """`save_strategy: no` in a recipe and `--save_strategy no` on the command line (YAML reads both as false)."""
    assert from_dict(yaml.safe_load("save_strategy: no") | _minimal()).save_strategy == "no"
    assert from_dict(_minimal(**parse_overrides(["--save_strategy", "no"]))).save_strategy == "no"
    with pytest.raises(TrainConfigError, match="'save_strategy' is True"):
        from_dict(_minimal(save_strategy=True))
