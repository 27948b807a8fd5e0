"""The answer format's one parser (mnlu.prompts) reads back what its builders write, and the paper scorer's
deliberate differences are the named rules in eval/scoring/paper.py, on the same primitives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.scoring.paper import RELEASED_SPAN_SPLIT, read_events, read_options
from mnlu.prompts import (
    SpanType,
    choice_answer,
    format_options,
    is_empty_answer,
    parse_choice,
    parse_multi_choice,
    parse_span_answer,
    span_answer,
    split_spans,
    split_type_line,
)

TYPES = [SpanType("Chemical"), SpanType("Disease"), SpanType("Gene")]
# Span texts as the corpora produce them: words, inner punctuation, a trailing period (`Dr.`, `Fig .`), repeats.
WORD = st.text(alphabet="abcXYZ019-/(),", min_size=1, max_size=6)
SPAN = st.builds(lambda ws, dot: " ".join(ws) + (" ." if dot == 1 else "." if dot == 2 else ""),
                 st.lists(WORD, min_size=1, max_size=3), st.integers(0, 2))


@given(st.dictionaries(st.sampled_from([t.name for t in TYPES]), st.lists(SPAN, max_size=4)))
def test_span_answer_round_trips(spans):
    parsed = parse_span_answer(span_answer(TYPES, spans))
    assert parsed == {t.name: list(spans.get(t.name, [])) for t in TYPES}


def test_dots_stay_on_the_span_before_the_separator():
    answer = span_answer(TYPES, {"Gene": ["Fig .", "p53"], "Chemical": ["Dr.", "NaCl"]})
    assert answer.splitlines()[0] == "Chemical: Dr....NaCl"
    assert parse_span_answer(answer) == {"Chemical": ["Dr.", "NaCl"], "Disease": [], "Gene": ["Fig .", "p53"]}
    # The released scorer splits at every `...`: its rule is named, and it is the only difference.
    assert RELEASED_SPAN_SPLIT == {"dots_stay_left": False}
    assert read_events("Gene: Fig ....p53") == (["Fig", ".p53"], "Gene")
    assert split_spans(" Fig ....p53 ", **RELEASED_SPAN_SPLIT) == ["Fig", ".p53"]
    assert split_spans(" Fig ....p53 ") == ["Fig .", "p53"]


def test_type_lines():
    assert split_type_line("Cell type: a: b") == ("Cell type", " a: b")  # first colon only, nothing stripped
    assert split_type_line("no colon") is None
    assert parse_span_answer("Gene: a...b\nnoise\n: orphan\nGene: None\n gene :c") == {"Gene": ["a", "b"],
                                                                                       "gene": ["c"]}
    assert split_spans("None") == [] and split_spans(" None ") == [] and split_spans("none") == ["none"]


def test_choice_parsers():
    options = ["yes", "no", "maybe"]
    assert parse_choice("(C) maybe, or rather (B) no", options) == 1  # letter order, not position
    assert parse_choice("yes", options) is None
    assert parse_choice(" Yes. ", options, option_text=True) == 0
    assert parse_choice("(D) other", options) is None  # no such option
    assert parse_choice(choice_answer(options, 2), "yes[SEP]no[SEP]maybe") == 2
    assert parse_multi_choice("(C) maybe\n(A) yes", options) == [0, 2]
    assert is_empty_answer(" None ") and is_empty_answer("") and not is_empty_answer("(A) yes")
    many = [f"o{i}" for i in range(20)]  # more options than letters: markers past (M) do not exist
    assert parse_choice("(M) o12", many) == 12 and parse_multi_choice("(M)", many) == [12]
    assert read_options(["a,b", "associated_with_someone_else"], "I think (B)") == ("not_patient", True)
    assert read_options(["a,b", "c"], "none") == ("a-b", False)  # the released first-option fallback
    with pytest.raises(ValueError, match="at most 13"):
        format_options(many)


@pytest.mark.parametrize("names", [["Chemical"], ["Protein", "DNA", "Cell type"], ["Participants", "Interventions"]])
def test_type_names_are_the_same_pieces_in_the_list_and_in_the_answer(names):
    """The answer writes each type at the start of a line; the instruction lists it the same way, so the
    name's SentencePiece pieces match and writing it is a copy (after `- ` the pieces differ: ▁Dise·ase vs
    D·ise·ase)."""
    from mnlu.prompts import render_chat, span_extraction
    from mnlu.tokenizer import get_tokenizer

    tok = get_tokenizer()
    types = [SpanType(n, f"mentions of {n.lower()}") for n in names]
    record = span_extraction("p-1", "Aspirin helped.", types, {}, type_="named entities")
    ids = tok.encode(render_chat(record["messages"]), add_special_tokens=False).ids
    header = tok.encode("<|assistant|>\n", add_special_tokens=False).ids[1:]  # the pieces after the leading ▁
    answer_start = max(i for i in range(len(ids)) if ids[i:i + len(header)] == header) + len(header)
    newline = tok.token_to_id("<0x0A>")
    for name in names:
        # the name's pieces as the answer writes them (a line start) ...
        line = f"\n{name}:"
        pieces = tok.encode(line, add_special_tokens=False).ids
        pieces = pieces[pieces.index(newline) + 1:-1]
        in_answer = [i for i in range(answer_start, len(ids)) if ids[i - 1] == newline and ids[i:i + len(pieces)] == pieces]
        in_prompt = [i for i in range(answer_start) if ids[i - 1] == newline and ids[i:i + len(pieces)] == pieces]
        assert in_answer and in_prompt, (name, tok.encode(line, add_special_tokens=False).tokens)
