"""The JAX backend end to end on a tiny exported model with the real tokenizer: `mnlu eval --backend jax` writes
one prediction per prompt, each equal to transformers' greedy `generate` on the same rendered prompt, and a run
cut short resumes to the same file."""

from __future__ import annotations

import json

import pytest

from eval.backends.render import clean_output, encode_prompt
from eval.backends.store import read_predictions
from eval.benchmarks import DATASETS
from eval.cli import main
from tests.conftest import SHARED_DATA

EVAL = SHARED_DATA / "eval"
pytestmark = pytest.mark.skipif(not EVAL.is_dir(), reason=f"{EVAL} is absent (real public data beside the checkout)")
MAX_NEW = 6


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from train_jax.config import ModelConfig
    from train_jax.hf import save_hf
    from train_jax.model import init_model

    cfg = ModelConfig(vocab_size=32000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=160,
                      max_position_embeddings=4096)
    path = tmp_path_factory.mktemp("tiny") / "model"
    save_hf(init_model(cfg, seed=7), path, tokenizer=True)
    return path


def _transformers_outputs(model_dir, records):
    import torch
    from transformers import AutoTokenizer, MistralForCausalLM

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = MistralForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    out = {}
    for r in records:
        ids = encode_prompt(tok, r)
        with torch.no_grad():
            gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=MAX_NEW, do_sample=False, eos_token_id=tok.eos_token_id,
                                 pad_token_id=0)
        new = gen[0, len(ids):].tolist()
        if tok.eos_token_id in new:
            new = new[: new.index(tok.eos_token_id)]
        out[r["prompt_id"]] = clean_output(tok.decode(new, skip_special_tokens=True))
    return out, tok


def test_jax_backend_matches_transformers_and_resumes(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    args = ["--model", str(tiny_model_dir), "--benchmarks", "gad,biosses", "--data-dir", str(EVAL), "--out", str(out),
            "--limit", "3", "--max-new-tokens", str(MAX_NEW), "--batch-size", "2", "--no-progress"]
    assert main(args) == 0
    records = [it.record for name in ("gad", "biosses") for it in DATASETS[name].items(EVAL, "test", 3)]
    rows = {r["prompt_id"]: r for name in ("gad", "biosses")
            for r in read_predictions(out / "predictions" / f"{name}.jsonl")}
    assert sorted(rows) == sorted(r["prompt_id"] for r in records)
    want, tok = _transformers_outputs(tiny_model_dir, records)
    lengths = [len(encode_prompt(tok, r)) for r in records]
    assert min(lengths) < 160 < max(lengths)  # prompts shorter and longer than the sliding window
    assert {pid: r["prediction"] for pid, r in rows.items()} == want
    res = json.loads((out / "results.json").read_text())
    assert res["gad"]["n"] == 3 and res["biosses"]["n"] == 3

    # Cut the GAD file after its first line (a crash), rerun: the missing prompts are generated again, identically.
    gad = out / "predictions" / "gad.jsonl"
    lines = gad.read_text().splitlines(keepends=True)
    gad.write_text(lines[0] + lines[1][: len(lines[1]) // 2])
    assert main(args) == 0
    again = read_predictions(gad)
    assert len(again) == 3 and {r["prompt_id"]: r["prediction"] for r in again} == {
        pid: want[pid] for pid in want if pid.startswith("gad")}
    assert res["blurb_paper"] is not None and res["biosses"]["official"] is None  # constant output: r undefined
