"""The helpers every converter family shares: the token budget, prefix fitting, answer pieces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mnlu.corpora._clinical import Doc, fitted_text, ner_items
from mnlu.corpora.item_helpers import (
    Mention,
    answer_pieces,
    fit_to_budget,
    longest_fitting_prefix,
    record_tokens,
    token_budget,
)
from mnlu.corpora.registry import ConvertContext
from mnlu.prompts import SpanType, multiple_choice, parse_span_answer, summarization
from mnlu.schema import answer_of
from mnlu.windows import estimate_tokens


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(0, 45), st.integers(0, 3))
def test_longest_fitting_prefix_is_the_largest_that_fits(n, limit, least):
    least = min(least, n)
    calls = []

    def fits(k):
        calls.append(k)
        return k <= limit

    k = longest_fitting_prefix(n, fits, least=least)
    assert k == max(least, min(n, limit))
    assert len(calls) <= 2 + n.bit_length()  # binary search, not a scan


def test_fit_to_budget_keeps_at_least_one_unit_and_never_cuts_the_answer():
    ctx = ConvertContext(max_seq_length=300, count_tokens=estimate_tokens)  # the empty item alone: 121
    sentences = [f"Sentence number {i} of a long article." for i in range(60)]

    def build(k):
        return summarization("p", " ".join(sentences[:k]), "the whole abstract", type_="t")

    record = fit_to_budget(build, len(sentences), ctx)
    assert answer_of(record) == "the whole abstract"
    assert record_tokens(record, estimate_tokens) <= token_budget(ctx) == 299
    assert record_tokens(build(len(sentences)), estimate_tokens) > 299
    one_huge = fit_to_budget(lambda k: summarization("p", "x" * 10_000 * k, "a", type_="t"), 1, ctx)
    assert "x" * 10_000 in one_huge["messages"][1]["content"]  # nothing shorter exists: kept, the stats flag it


def test_answer_pieces_split_a_mention_at_line_breaks():
    text = "Lives at 12 Main St\nBoston with his wife."
    assert answer_pieces(text, 9, 26) == ["12 Main St", "Boston"]
    assert answer_pieces(text, 19, 20) == []


def test_clinical_items_keep_one_line_per_type_and_fit_with_bos():
    text = "SOCIAL HISTORY: lives at 12 Main St\nBoston. " + "Quiet. " * 300
    types = [SpanType("LOCATION", "places")]
    ctx = ConvertContext(max_seq_length=400, count_tokens=estimate_tokens)  # the empty item alone: 240
    items = list(ner_items(Doc("c", "train", "d1", "f.xml"), text, [Mention(25, 42, "LOCATION")], types, ctx))
    assert len(items) > 1
    assert parse_span_answer(answer_of(items[0].record)) == {"LOCATION": ["12 Main St", "Boston"]}
    assert all(record_tokens(i.record, estimate_tokens) <= 399 for i in items)  # + <s> ≤ max_seq_length
    shown = fitted_text("line\n" * 400, lambda t: multiple_choice("x", "Q?", ["a", "b"], 0, type_="t", text=t),
                        ctx, Doc("c", "train", "d2", "f.xml"))
    assert shown.endswith("line\n") and record_tokens(
        multiple_choice("x", "Q?", ["a", "b"], 0, type_="t", text=shown), estimate_tokens) <= 399
