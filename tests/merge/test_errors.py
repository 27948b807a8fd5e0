"""Bad inputs: a clear error (naming the file or key) and no output directory."""

from __future__ import annotations

import json
import shutil

import pytest

from merge.cli import main

from .helpers import make_model_dir


def _argv(base, ft, out, *extra):
    return ["--base", str(base), "--finetuned", str(ft), "--out", str(out), "--method", "dare_linear",
            "--drop-rate", "0.2", "--weight", "0.5", "--no-progress", *extra]


def _fails(argv, out, capsys, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.tmp-*"))


def test_mismatched_shapes(models, tmp_path, capsys):
    other = make_model_dir(tmp_path / "wide", seed=9, intermediate_size=192, tokenizer=False)
    _fails(_argv(models["base"], other, tmp_path / "o"), tmp_path / "o", capsys, "intermediate_size")
    # same config, one tensor reshaped in the file: caught by the tensor check
    bad = tmp_path / "reshaped"
    shutil.copytree(models["ft"], bad)
    cfg = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps(cfg))
    from safetensors.torch import load_file, save_file

    sd = load_file(str(bad / "model.safetensors"))
    sd["model.norm.weight"] = sd["model.norm.weight"][:32].clone()
    save_file(sd, str(bad / "model.safetensors"), metadata={"format": "pt"})
    _fails(_argv(models["base"], bad, tmp_path / "o"), tmp_path / "o", capsys, "model.norm.weight", "shape")


def test_vocab_mismatch_policy(models, tmp_path, capsys):
    big = make_model_dir(tmp_path / "big", seed=8, vocab_size=97, tokenizer=False)
    _fails(_argv(models["base"], big, tmp_path / "o"), tmp_path / "o", capsys, "vocabulary mismatch")
    assert main(_argv(models["base"], big, tmp_path / "o", "--rng", "native", "--vocab-policy", "base")) == 0


def test_missing_tensor(models, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    bad = tmp_path / "missing"
    shutil.copytree(models["ft"], bad)
    sd = load_file(str(bad / "model.safetensors"))
    del sd["model.layers.1.mlp.up_proj.weight"]
    save_file(sd, str(bad / "model.safetensors"), metadata={"format": "pt"})
    _fails(_argv(models["base"], bad, tmp_path / "o"), tmp_path / "o", capsys,
           "missing tensor", "model.layers.1.mlp.up_proj.weight")


def test_truncated_shard(models, tmp_path, capsys):
    bad = tmp_path / "trunc"
    shutil.copytree(models["ft"], bad)
    f = bad / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    _fails(_argv(models["base"], bad, tmp_path / "o"), tmp_path / "o", capsys, "truncated", "model.safetensors")
    f.write_bytes(f.read_bytes()[:20])
    _fails(_argv(models["base"], bad, tmp_path / "o"), tmp_path / "o", capsys, "model.safetensors")


def test_nan_in_input_aborts_and_cleans_up(models, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    bad = tmp_path / "nan"
    shutil.copytree(models["ft"], bad)
    sd = load_file(str(bad / "model.safetensors"))
    sd["model.layers.0.mlp.down_proj.weight"][3, 5] = float("nan")
    save_file(sd, str(bad / "model.safetensors"), metadata={"format": "pt"})
    _fails(_argv(models["base"], bad, tmp_path / "o", "--rng", "native"), tmp_path / "o", capsys,
           "NaN/Inf", "model.layers.0.mlp.down_proj.weight", "element 389")


@pytest.mark.parametrize("argv_extra,needle", [
    (["--method", "slerp"], "invalid choice"),
    (["--rng", "mergelm", "--method", "ties"], "no MergeLM counterpart"),
    (["--drop-rate", "1.5"], "outside [0, 1]"),
])
def test_unknown_method_or_parameter_flags(models, tmp_path, capsys, argv_extra, needle):
    out = tmp_path / "o"
    argv = _argv(models["base"], models["ft"], out) + argv_extra
    if needle == "invalid choice":
        with pytest.raises(SystemExit):
            main(argv)
        assert needle in capsys.readouterr().err
        assert not out.exists()
    else:
        _fails(argv, out, capsys, needle)


def test_unknown_yaml_keys(models, tmp_path, capsys):
    out = tmp_path / "o"
    for text, needle in [
        ("merge_method: dare_linear\nmodels: [{model: x, parameters: {weigth: 1}}]\n", "weigth"),
        ("merge_method: magic\nbase_model: b\nmodels: [x]\n", "unknown merge_method 'magic'"),
        ("merge_method: dare_linear\nfrobnicate: 1\n", "frobnicate"),
    ]:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(text)
        _fails(["--config", str(cfg), "--out", str(out)], out, capsys, needle)


def test_existing_output_is_kept(models, tmp_path, capsys):
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(_argv(models["base"], models["ft"], out)) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "x"


def test_dry_run_prints_plan_and_writes_nothing(models, tmp_path, capsys):
    out = tmp_path / "dry"
    assert main(_argv(models["base"], models["ft"], out, "--dry-run", "--rng", "mergelm")) == 0
    text = capsys.readouterr().out
    assert "tensors   21" in text and "expected time" in text and "read" in text
    assert not out.exists()
