"""vLLM generation, as the paper ran it: offline `LLM.generate`, greedy, explicit `max_tokens`, stop at eos.

`generation_config="vllm"` makes vLLM ignore the model folder's generation_config.json, so nothing in the
folder can change the sampling. Prompts are the chat-template renderings of `render.render_prompt`, passed as
text exactly like the paper (vLLM then tokenizes them as `tokenizer(text)`, which `generate_ids` reproduces for
the token-level parity check with our JAX backend).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from eval.backends.render import clean_output, render_prompt


def vllm_available() -> tuple[bool, str]:
    """(True, version) when vLLM imports; (False, why) otherwise."""
    try:
        import vllm
    except Exception as e:  # ImportError, or a broken CUDA/torch pairing raising at import
        return False, f"vllm does not import here ({e.__class__.__name__}: {str(e).splitlines()[0][:200]})"
    return True, getattr(vllm, "__version__", "?")


class VllmGenerator:
    """A `GenerateFn` over records, backed by one vLLM engine."""

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        max_new_tokens: int,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        seed: int = 0,
        enforce_eager: bool = False,
    ):
        from vllm import LLM, SamplingParams

        options: dict[str, Any] = {"max_model_len": max_model_len} if max_model_len else {}
        self.llm = LLM(
            model=str(model_dir),
            tokenizer=str(model_dir),
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            seed=seed,
            generation_config="vllm",
            trust_remote_code=False,
            enforce_eager=enforce_eager,
            **options,
        )
        self.tokenizer = self.llm.get_tokenizer()
        if self.tokenizer.eos_token_id is None:
            raise ValueError(f"{model_dir}: the tokenizer has no eos token; generation could not stop")
        self.params = SamplingParams(
            temperature=0.0, max_tokens=max_new_tokens, stop_token_ids=[self.tokenizer.eos_token_id], seed=seed
        )

    def __call__(self, records: Sequence[Mapping[str, Any]]) -> list[str]:
        prompts = [render_prompt(self.tokenizer, r) for r in records]
        outputs = self.llm.generate(prompts, self.params, use_tqdm=False)
        return [clean_output(o.outputs[0].text) for o in outputs]

    def generate_ids(self, prompts: Sequence[Sequence[int]]) -> list[list[int]]:
        """Greedy new token ids (eos included when reached) for token-id prompts: the parity check's entry."""
        outputs = self.llm.generate([{"prompt_token_ids": list(p)} for p in prompts], self.params, use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outputs]
