"""Stored predictions are keyed by the model's identity, the generation settings and the prompt's tokens: model B
evaluated into the folder model A used never gets A's predictions (issue 13, point 1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eval.backends.identity import model_identity, prompt_identity
from eval.backends.store import StoreMismatch, read_predictions, run_generation
from eval.cli import main
from tests.eval.test_resume import records

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "eval" / "demo_data"


@pytest.fixture(autouse=True)
def _digest_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MNLU_CACHE_DIR", str(tmp_path / "cache"))


def answers(tag):
    return lambda batch: [f"(A) {tag} {r['prompt_id']}" for r in batch]


def key(r):
    return prompt_identity([1, len(r["prompt_id"]), int(r["prompt_id"][-5:])])


def test_other_model_is_refused_naming_file_and_both_identities_then_overwritten(tmp_path):
    recs, path = records(6), tmp_path / "p.jsonl"
    run_generation(recs[:4], answers("A"), path, model="aaaa", generation="g=1", prompt_key=key, progress=False)
    with pytest.raises(StoreMismatch) as info:
        run_generation(recs, answers("B"), path, model="bbbb", generation="g=1", prompt_key=key, progress=False)
    msg = str(info.value)
    assert str(path) in msg and "aaaa" in msg and "bbbb" in msg and "--overwrite" in msg
    assert len(read_predictions(path)) == 4  # the refused run changed nothing
    with pytest.raises(StoreMismatch, match="settings 'g=1', but this run is model aaaa with 'g=2'"):
        run_generation(recs, answers("A"), path, model="aaaa", generation="g=2", prompt_key=key, progress=False)
    rows = run_generation(recs, answers("B"), path, model="bbbb", generation="g=1", prompt_key=key,
                          progress=False, overwrite=True)
    assert [r["prediction"] for r in rows] == answers("B")(recs)
    assert [r["prediction"] for r in read_predictions(path)] == answers("B")(recs)  # one row per prompt


def test_changed_prompt_tokens_are_generated_again(tmp_path):
    recs, path = records(5), tmp_path / "p.jsonl"
    run_generation(recs, answers("old"), path, model="m", generation="g", prompt_key=key, progress=False)
    changed = {recs[1]["prompt_id"], recs[3]["prompt_id"]}

    def new_key(r):
        return key(r) + ("x" if r["prompt_id"] in changed else "")

    calls: list[str] = []

    def new(batch):
        calls.extend(r["prompt_id"] for r in batch)
        return answers("new")(batch)

    rows = run_generation(recs, new, path, model="m", generation="g", prompt_key=new_key, progress=False)
    assert sorted(calls) == sorted(changed)
    assert [r["prediction"].split()[1] for r in rows] == ["old", "new", "old", "new", "old"]
    on_disk = read_predictions(path)
    assert sorted(r["prompt_id"] for r in on_disk) == [r["prompt_id"] for r in recs]  # stale rows dropped


def test_a_file_without_identities_is_not_trusted(tmp_path):
    recs, path = records(3), tmp_path / "p.jsonl"
    run_generation(recs, answers("legacy"), path, progress=False)  # as written before rows were keyed
    with pytest.raises(StoreMismatch, match="unknown"):
        run_generation(recs, answers("B"), path, model="m", generation="g", prompt_key=key, progress=False)


def test_model_identity_hashes_weight_contents_and_caches_digests(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, byte in ((a, b"\x01"), (b, b"\x02")):  # same names, sizes and index: only the contents differ
        d.mkdir()
        (d / "config.json").write_text('{"hidden_size": 8}')
        (d / "model.safetensors").write_bytes(byte * 4096)
        (d / "model.safetensors.index.json").write_text('{"weight_map": {"w": "model.safetensors"}}')
    assert model_identity(a) != model_identity(b)
    cache = json.loads((tmp_path / "cache" / "file-digests.json").read_text())
    entry = cache[str((a / "model.safetensors").resolve())]
    assert entry["size"] == 4096
    # The cache is used while path, size and mtime_ns are unchanged, and ignored once the file is rewritten.
    entry["blake2b"] = "0" * 32
    (tmp_path / "cache" / "file-digests.json").write_text(json.dumps(cache))
    forged = model_identity(a)
    assert forged != model_identity(b) and forged == model_identity(a)
    st = (a / "model.safetensors").stat()
    os.utime(a / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert model_identity(a) != forged
    (a / "config.json").write_text('{"hidden_size": 16}')
    assert model_identity(a) != forged
    with pytest.raises(FileNotFoundError, match="no \\*.safetensors"):
        model_identity(tmp_path / "cache")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Two tiny exported models of the same shape (identical shard layout), different weights."""
    from train_jax.config import ModelConfig
    from train_jax.hf import save_hf
    from train_jax.model import init_model

    cfg = ModelConfig(vocab_size=32000, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=4096)
    root = tmp_path_factory.mktemp("models")
    for name, seed in (("A", 1), ("B", 2)):
        save_hf(init_model(cfg, seed=seed), root / name, tokenizer=True)
    return root / "A", root / "B"


def _eval(model: Path, out: Path, *extra: str) -> int:
    return main(["--model", str(model), "--benchmarks", "gad", "--data-dir", str(DEMO), "--out", str(out),
                 "--limit", "3", "--max-new-tokens", "4", "--batch-size", "3", "--no-progress", *extra])


def _predictions(out: Path) -> dict[str, str]:
    return {r["prompt_id"]: r["prediction"] for r in read_predictions(out / "predictions" / "gad.jsonl")}


def test_cli_model_b_into_model_a_folder_gets_an_error_or_b_predictions(two_models, tmp_path, capsys):
    model_a, model_b = two_models
    assert _eval(model_b, tmp_path / "b_alone") == 0
    want_b = _predictions(tmp_path / "b_alone")
    out = tmp_path / "shared"
    assert _eval(model_a, out) == 0
    want_a = _predictions(out)
    assert want_a != want_b  # the two models answer differently, so reuse would show
    capsys.readouterr()
    assert _eval(model_b, out) == 2
    err = capsys.readouterr().err
    assert str(out / "predictions" / "gad.jsonl") in err
    assert model_identity(model_a) in err and model_identity(model_b) in err
    assert _predictions(out) == want_a  # untouched
    assert _eval(model_b, out, "--overwrite") == 0
    assert _predictions(out) == want_b
    assert _eval(model_b, out, "--max-new-tokens", "5") == 2  # other generation settings: refused too
    assert "max_new_tokens=5" in capsys.readouterr().err
