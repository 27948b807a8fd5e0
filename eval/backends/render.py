"""How a record becomes model input, and how an output becomes a prediction: shared by both backends so that
vLLM and our JAX generation see the same token ids.

As in the paper's `evaluation.py`: the prompt is the record's messages before the gold answer, rendered with the
exported tokenizer's chat template (`apply_chat_template(tokenize=False)`, here with
`add_generation_prompt=True`), then encoded the way vLLM encodes a text prompt (`tokenizer(text)`, which adds
`<s>`). The output is cleaned the way the paper cleaned it: a stray `<|assistant|>` header removed, stripped,
`[SEP]` turned into the span separator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mnlu.prompts import ASSISTANT_HEADER, SPAN_SEP
from mnlu.schema import prompt_messages


def render_prompt(tokenizer: Any, record: Mapping[str, Any]) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the tokenizer has no chat template; export the model with mnlu's tokenizer")
    return tokenizer.apply_chat_template(prompt_messages(record), tokenize=False, add_generation_prompt=True)


def encode_prompt(tokenizer: Any, record: Mapping[str, Any]) -> list[int]:
    return list(tokenizer(render_prompt(tokenizer, record))["input_ids"])


def clean_output(text: str) -> str:
    return text.replace(ASSISTANT_HEADER, "").strip().replace("[SEP]", SPAN_SEP)


def decode_outputs(tokenizer: Any, outputs: Sequence[Sequence[int]], eos_token_id: int) -> list[str]:
    """New tokens → cleaned text, cut at the first eos."""
    texts = []
    for ids in outputs:
        ids = list(ids)
        if eos_token_id in ids:
            ids = ids[: ids.index(eos_token_id)]
        texts.append(clean_output(tokenizer.decode(ids, skip_special_tokens=True)))
    return texts
