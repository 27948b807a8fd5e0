"""The one record schema used everywhere: training items, test items and (with two more fields) predictions.

A record is a plain dict so it round-trips through JSONL and `datasets` unchanged:
`prompt_id`, `messages` (system, user, assistant), `task`, `type`, `options` (`[SEP]`-joined, may be empty).
`task` is the scoring kind the paper's released scorer dispatches on; the folder a record is written under
(events, RE, DC, NLI, STS, summarization) is its *family*, kept apart from the record itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

OPTION_SEP = "[SEP]"

# Scoring kinds (the paper's `task` values): span extraction, PICO word-level spans, single-label choice,
# multi-label choice, NLI and QA (gold answer contained in the output), STS (Pearson), free text.
TASKS = ("events", "PICO", "classification", "MultiQA", "NLI", "QA", "STS", "summarization")
# Output folder families of MNLU-Instruct (the paper's `dataset/final/<split>/<family>/<corpus>`).
FAMILIES = ("events", "RE", "DC", "NLI", "STS", "summarization")
ROLES = ("system", "user", "assistant")
RECORD_KEYS = ("prompt_id", "messages", "task", "type", "options")
PREDICTION_KEYS = ("prediction", "reference")


class SchemaError(ValueError):
    """A record that does not follow the schema; the message names the record and the field."""


def make_record(
    prompt_id: str,
    system: str,
    user: str,
    assistant: str | None,
    task: str,
    type_: str,
    options: Sequence[str] = (),
) -> dict[str, Any]:
    """Build a record; `assistant=None` makes a prompt-only record (generation input)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    record = {
        "prompt_id": prompt_id,
        "messages": messages,
        "task": task,
        "type": type_,
        "options": OPTION_SEP.join(options),
    }
    validate_record(record)
    return record


def split_options(options: str) -> list[str]:
    """`[SEP]`-joined options back to a list (empty string → no options)."""
    return options.split(OPTION_SEP) if options else []


def validate_record(record: Mapping[str, Any], *, where: str = "", require_answer: bool = False) -> None:
    """Raise SchemaError naming `where` (file:line or prompt id) and the offending field."""
    pid = record.get("prompt_id", "?") if isinstance(record, Mapping) else "?"
    at = where or f"record {pid!r}"
    if not isinstance(record, Mapping):
        raise SchemaError(f"{at}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise SchemaError(f"{at}: missing field(s) {missing}; a record has {list(RECORD_KEYS)}")
    if not isinstance(record["prompt_id"], str) or not record["prompt_id"]:
        raise SchemaError(f"{at}: 'prompt_id' must be a non-empty string")
    if record["task"] not in TASKS:
        raise SchemaError(f"{at}: 'task' is {record['task']!r}; expected one of {list(TASKS)}")
    if not isinstance(record["type"], str):
        raise SchemaError(f"{at}: 'type' must be a string")
    if not isinstance(record["options"], str):
        raise SchemaError(f"{at}: 'options' must be a [SEP]-joined string")
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        raise SchemaError(f"{at}: 'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise SchemaError(f"{at}: messages[{i}] must be {{'role': one of {list(ROLES)}, 'content': str}}")
    if require_answer and messages[-1]["role"] != "assistant":
        raise SchemaError(f"{at}: the last message must be the assistant's answer")
    opts = split_options(record["options"])
    if record["task"] in ("classification", "MultiQA", "NLI", "QA", "STS") and not opts:
        raise SchemaError(f"{at}: task {record['task']!r} needs options")
    if len(opts) > 13:
        raise SchemaError(f"{at}: {len(opts)} options; the format letters at most 13, (A)…(M)")


def answer_of(record: Mapping[str, Any]) -> str | None:
    """The gold answer (last assistant message), or None for a prompt-only record."""
    last = record["messages"][-1]
    return last["content"] if last["role"] == "assistant" else None


def prompt_messages(record: Mapping[str, Any]) -> list[dict[str, str]]:
    """The messages to render for generation: everything before the gold answer."""
    msgs = list(record["messages"])
    if msgs and msgs[-1]["role"] == "assistant":
        msgs = msgs[:-1]
    return [dict(m) for m in msgs]
