"""The unified, dataset-agnostic prompt format of MNLU-Instruct (design.md §3), and the parsers of its answers.

This module is the single source of the format: the corpus converters build training items with it and the
evaluation builds its zero-shot prompts with it, so training and evaluation cannot drift apart.

- Span extraction (NER, event arguments, PICO): one answer line per type, ``Type: span1...span2`` or
  ``Type: None``; mentions in text order, repeats included. The user message is the instruction, then
  ``\\nMedical text:`` and the text.
- Multiple choice (event attributes, RE, DC, NLI, QA, STS): options lettered (A)…(M); the answer starts with
  its letter, e.g. ``(B) negated``; a multi-label answer lists every chosen option, one per line.
- STS: the options are integer similarity levels.
- Summarization: free text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mnlu.schema import make_record, split_options

LETTERS = "ABCDEFGHIJKLM"
SPAN_SEP = "..."
NONE_ANSWER = "None"
MEDICAL_TEXT = "\nMedical text: "

SYSTEM_PROMPT = (
    "You are a medical language understanding assistant. Read the medical text and answer the instruction "
    "exactly in the requested format."
)

# The paper's chat template (alignment-handbook `chat_template` of config_full.yaml), verbatim.
CHAT_TEMPLATE = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}"
    "\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
EOS_TOKEN = "</s>"
ASSISTANT_HEADER = "<|assistant|>\n"


@dataclass(frozen=True)
class SpanType:
    """An entity, argument or PICO type to extract, with the short description shown in the prompt."""

    name: str
    description: str = ""


def render_chat(messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = False) -> str:
    """Render messages exactly as CHAT_TEMPLATE does under HF's Jinja settings (trim_blocks, lstrip_blocks).

    Pure Python so that loss masks can be computed from character spans without a tokenizer.
    """
    out = []
    for m in messages:
        if m["role"] not in ("system", "user", "assistant"):
            raise ValueError(f"unknown chat role {m['role']!r}")
        out.append(f"<|{m['role']}|>\n{m['content']}{EOS_TOKEN}\n")
    if add_generation_prompt:
        out.append(ASSISTANT_HEADER)
    return "".join(out)


def assistant_char_spans(messages: Sequence[Mapping[str, str]]) -> list[tuple[int, int]]:
    """Character spans of each assistant answer in `render_chat(messages)`: header excluded, `</s>` included."""
    spans, pos = [], 0
    for m in messages:
        header = f"<|{m['role']}|>\n"
        body = m["content"] + EOS_TOKEN
        if m["role"] == "assistant":
            spans.append((pos + len(header), pos + len(header) + len(body)))
        pos += len(header) + len(body) + 1
    return spans


# ----------------------------------------------------------------------------------------------- builders


def format_options(options: Sequence[str]) -> str:
    if not options:
        raise ValueError("a multiple-choice question needs at least one option")
    if len(options) > len(LETTERS):
        raise ValueError(f"{len(options)} options; the format letters at most {len(LETTERS)}")
    return "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(options))


def choice_answer(options: Sequence[str], index: int) -> str:
    """`(B) negated` for index 1."""
    return f"({LETTERS[index]}) {options[index]}"


def span_answer(types: Sequence[SpanType], spans: Mapping[str, Sequence[str]]) -> str:
    """One line per type in the order of `types`; spans in the given (text) order, repeats kept."""
    unknown = set(spans) - {t.name for t in types}
    if unknown:
        raise ValueError(f"spans given for types not in the type list: {sorted(unknown)}")
    lines = []
    for t in types:
        found = [s for s in spans.get(t.name, ()) if s]
        lines.append(f"{t.name}: {SPAN_SEP.join(found) if found else NONE_ANSWER}")
    return "\n".join(lines)


SPAN_ANSWER_RULE = (
    f"Answer with one line per type, written as 'Type: span1{SPAN_SEP}span2', or 'Type: {NONE_ANSWER}' "
    "when the text has none. Copy each span exactly as it appears in the text."
)


def span_header(what: str = "entities") -> str:
    return f"Extract all {what} of the following types from the medical text, in the order they appear."


def is_type_name(name: str) -> bool:
    """A name a type line can carry: non-empty, one line, no colon (the answer's type line ends at its first colon)."""
    return bool(name) and "\n" not in name and ":" not in name


def span_instruction(types: Sequence[SpanType], what: str = "entities", *, header: str | None = None) -> str:
    """The header line, one line per type, then the answer rule. Each type line starts with the name at the start
    of the line, `Name: description`, because that is where the answer writes it: the SentencePiece pieces of a
    name after a newline differ from those after `- ` (`\nDisease` is D·ise·ase, `- Disease` is ▁Dise·ase), and
    only identical pieces make the answer's type name a plain copy of the prompt's."""
    if not all(is_type_name(t.name) for t in types):
        raise ValueError(f"type names must be non-empty single lines without a colon (the answer's type line ends "
                         f"at the first colon): {[t.name for t in types]!r}")
    described = "\n".join(f"{t.name}: {t.description}" if t.description else t.name for t in types)
    return f"{header or span_header(what)}\n{described}\n{SPAN_ANSWER_RULE}"


def span_extraction(
    prompt_id: str,
    text: str,
    types: Sequence[SpanType],
    spans: Mapping[str, Sequence[str]] | None,
    *,
    type_: str,
    task: str = "events",
    what: str = "entities",
    instruction: str | None = None,
) -> dict[str, Any]:
    """NER, event-argument or PICO extraction item. `spans=None` gives a prompt-only record."""
    user = (instruction or span_instruction(types, what)) + MEDICAL_TEXT + text
    answer = None if spans is None else span_answer(types, spans)
    return make_record(prompt_id, SYSTEM_PROMPT, user, answer, task, type_, ())


def multiple_choice(
    prompt_id: str,
    question: str,
    options: Sequence[str],
    answer: int | None,
    *,
    type_: str,
    text: str | None = None,
    task: str = "classification",
) -> dict[str, Any]:
    """Single-label choice (RE, DC, event attributes, NLI, QA, STS): the answer is `(X) option`."""
    user = f"{question}\nOptions:\n{format_options(options)}"
    if text is not None:
        user += MEDICAL_TEXT + text
    gold = None if answer is None else choice_answer(options, answer)
    return make_record(prompt_id, SYSTEM_PROMPT, user, gold, task, type_, options)


def multi_label_choice(
    prompt_id: str,
    question: str,
    options: Sequence[str],
    answers: Sequence[int] | None,
    *,
    type_: str,
    text: str | None = None,
) -> dict[str, Any]:
    """Multi-label choice (e.g. HoC): every chosen option on its own line, in option order."""
    q = question + " Choose every option that applies."
    user = f"{q}\nOptions:\n{format_options(options)}"
    if text is not None:
        user += MEDICAL_TEXT + text
    gold = None if answers is None else "\n".join(choice_answer(options, i) for i in sorted(set(answers)))
    return make_record(prompt_id, SYSTEM_PROMPT, user, gold, "MultiQA", type_, options)


NLI_LABELS = ("entailment", "neutral", "contradiction")


def nli(
    prompt_id: str,
    premise: str,
    hypothesis: str,
    label: str | None,
    *,
    labels: Sequence[str] = NLI_LABELS,
    type_: str = "natural language inference",
) -> dict[str, Any]:
    """Premise/hypothesis inference; scored by the gold answer appearing in the output (task NLI)."""
    if label is not None and label not in labels:
        raise ValueError(f"NLI label {label!r} is not one of {list(labels)}")
    question = (
        "What is the relation between the premise and the hypothesis?\n"
        f"Premise: {premise}\nHypothesis: {hypothesis}"
    )
    idx = None if label is None else list(labels).index(label)
    return multiple_choice(prompt_id, question, labels, idx, type_=type_, task="NLI")


STS_LEVELS = ("0", "1", "2", "3", "4", "5")


def sts(
    prompt_id: str,
    sentence1: str,
    sentence2: str,
    score: float | None,
    *,
    levels: Sequence[str] = STS_LEVELS,
    type_: str = "semantic similarity",
) -> dict[str, Any]:
    """Sentence similarity as a choice among integer levels; a real-valued gold score is rounded half up."""
    lo, hi = int(levels[0]), int(levels[-1])
    question = (
        f"How similar are the two sentences, on a scale from {lo} (unrelated) to {hi} (equivalent)?\n"
        f"Sentence 1: {sentence1}\nSentence 2: {sentence2}"
    )
    idx = None
    if score is not None:
        level = min(hi, max(lo, int(float(score) + 0.5)))
        idx = list(levels).index(str(level))
    return multiple_choice(prompt_id, question, levels, idx, type_=type_, task="STS")


def summarization(
    prompt_id: str,
    text: str,
    summary: str | None,
    *,
    type_: str = "summary",
    instruction: str = "Summarize the medical text.",
) -> dict[str, Any]:
    return make_record(prompt_id, SYSTEM_PROMPT, instruction + MEDICAL_TEXT + text, summary, "summarization", type_)


# ------------------------------------------------------------------------------------------------ parsers
# The one place that reads the format back. eval's official scorers use these as they are; the paper's released
# scorer (eval/scoring/paper.py) builds its named quirks on the same primitives.

_MARKER = "({})"
# The span separator, but a run of more than three dots leaves its leading dots on the span before it:
# span_answer joins `a .` and `b` as `a ....b`, which this splits back into `a .` and `b`.
_SEPARATOR = re.compile(re.escape(SPAN_SEP) + r"(?!\.)")


def split_type_line(line: str) -> tuple[str, str] | None:
    """`Type: rest` split at its first colon into the raw (unstripped) type and rest; None without a colon."""
    name, colon, rest = line.partition(":")
    return (name, rest) if colon else None


def split_spans(rest: str, *, dots_stay_left: bool = True) -> list[str]:
    """The spans of a type line's value, stripped, empty ones dropped; `None` gives []. With `dots_stay_left`
    (the inverse of span_answer) `a ....b` is [`a .`, `b`]; without it the value is split at every `...`
    (plain str.split, as the paper's released scorer does: [`a`, `.b`])."""
    rest = rest.strip()
    if rest == NONE_ANSWER:
        return []
    parts = _SEPARATOR.split(rest) if dots_stay_left else rest.split(SPAN_SEP)
    return [s.strip() for s in parts if s.strip()]


def parse_span_answer(output: str) -> dict[str, list[str]]:
    """`Type: a...b` lines → {type: [a, b]}; `Type: None` → []; a type given twice collects both lines' spans.
    Lines without a colon or with an empty type are ignored."""
    result: dict[str, list[str]] = {}
    for line in output.splitlines():
        parts = split_type_line(line)
        if parts is None or not parts[0].strip():
            continue
        result.setdefault(parts[0].strip(), []).extend(split_spans(parts[1]))
    return result


def _option_list(options: Sequence[str] | str) -> list[str]:
    return split_options(options) if isinstance(options, str) else list(options)


def has_marker(output: str, index: int) -> bool:
    """Whether the output names option `index` by its `(X)` marker anywhere."""
    return _MARKER.format(LETTERS[index]) in output


def parse_choice(output: str, options: Sequence[str] | str, *, option_text: bool = False) -> int | None:
    """Index of the first option, in letter order, whose `(X)` marker appears in the output (the paper's rule:
    `(C) ... (B)` chooses B); None when no marker names an option (the paper then takes the first option).

    With `option_text`, an output without a marker that is exactly one option's text (case-insensitive, outer
    periods and spaces ignored, e.g. `yes.`) chooses that option, as the official scorers accept."""
    opts = _option_list(options)
    for i in range(min(len(opts), len(LETTERS))):
        if has_marker(output, i):
            return i
    if option_text:
        bare = output.strip().strip(".").strip().lower()
        matches = [i for i, o in enumerate(opts) if o.lower() == bare]
        if len(matches) == 1:
            return matches[0]
    return None


def is_empty_answer(output: str) -> bool:
    """An empty output or `None` (any case): a valid multi-label answer choosing nothing, not an unparsed one."""
    return output.strip().lower() in ("", NONE_ANSWER.lower())


def parse_multi_choice(output: str, options: Sequence[str] | str) -> list[int]:
    """Every option whose `(X)` marker appears in the output, in option order."""
    return [i for i in range(min(len(_option_list(options)), len(LETTERS))) if has_marker(output, i)]
