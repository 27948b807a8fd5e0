"""Token windows: never cut a span, cover all content, respect the budget, prefer sentence and line breaks."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mnlu.prompts import SpanType, render_chat, span_extraction
from mnlu.tokenizer import count_tokens
from mnlu.windows import _merged, estimate_tokens, fit_windows, spans_within, split_into_windows

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _check(text, spans, windows, max_tokens, count):
    assert windows == sorted(windows)
    for (_, b1), (a2, _) in pairwise(windows):
        assert b1 <= a2
    for s, e in spans:
        if e > s:
            assert sum(a <= s and e <= b for a, b in windows) == 1, (s, e, windows)
    covered = set()
    for a, b in windows:
        covered.update(range(a, b))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())
    merged = set(_merged(spans))
    for a, b in windows:
        if count(text[a:b]) > max_tokens:
            assert (a, b) in merged, "only an uncuttable span may exceed the budget"


words = st.sampled_from(["the", "cell", "IL-2", "gene", "12", "3.5", "p53", "mutation", "of", "in", "patients"])
pieces = st.lists(st.one_of(words, st.sampled_from([" ", " ", "\n", ". ", "; ", "\n\n", "  "])), max_size=80)


@settings(max_examples=300, deadline=None)
@given(pieces, st.data(), st.integers(1, 40))
def test_invariants_on_random_texts(parts, data, max_tokens):
    text = "".join(parts)
    n = len(text)
    spans = []
    for _ in range(data.draw(st.integers(0, 6))):
        s = data.draw(st.integers(0, n))
        e = data.draw(st.integers(s, min(n, s + 30)))
        spans.append((s, e))
    windows = split_into_windows(text, spans, max_tokens)
    _check(text, spans, windows, max_tokens, estimate_tokens)


def test_prefers_sentence_and_line_breaks():
    sentences = [f"Sentence number {w} talks about the protein kinase." for w in "abcdefgh"]
    text = " ".join(sentences[:4]) + "\n" + " ".join(sentences[4:])
    per = count_tokens(sentences[0])
    windows = split_into_windows(text, [], 2 * per + 2, count_tokens)
    got = [text[a:b] for a, b in windows]
    assert got == [" ".join(sentences[i:i + 2]) for i in range(0, 8, 2)]


def test_span_across_sentence_boundary_is_kept_whole():
    text = "First part ends here. Second part starts. Third one. Fourth one."
    span = (text.index("here"), text.index("starts") + len("starts"))
    windows = split_into_windows(text, [span], 6, count_tokens)
    (holder,) = [w for w in windows if w[0] <= span[0] and span[1] <= w[1]]
    assert text[holder[0]:holder[1]].count("here. Second part starts") == 1


def test_span_longer_than_budget_stays_one_window():
    text = "aaaa bbbb cccc dddd eeee ffff"
    span = (5, 19)  # "bbbb cccc dddd"
    windows = split_into_windows(text, [span], 2, estimate_tokens)
    assert span in windows
    _check(text, [span], windows, 2, estimate_tokens)


def test_no_whitespace_splits_anywhere_but_not_in_spans():
    text = "x" * 50
    windows = split_into_windows(text, [(8, 14)], 5, estimate_tokens)
    assert all(estimate_tokens(text[a:b]) <= 5 or (a, b) == (8, 14) for a, b in windows)
    _check(text, [(8, 14)], windows, 5, estimate_tokens)


def test_fit_windows_makes_whole_items_fit_on_a_real_full_text():
    doc = SHARED / "mnlu" / "linnaeus" / "manual-corpus-species-1.1" / "txt" / "pmcA1075922.txt"
    if not doc.exists():
        import pytest

        pytest.skip(f"shared data absent: {doc}")
    text = doc.read_text()
    # every occurrence of a few species words as spans
    spans = []
    for word in ("human", "mouse", "Escherichia coli", "yeast"):
        i = text.find(word)
        while i >= 0:
            spans.append((i, i + len(word)))
            i = text.find(word, i + 1)
    types = [SpanType("Species", "a species name")]
    max_len = 512

    def item_tokens(a: int, b: int) -> int:
        found = [text[s:e] for s, e in spans if a <= s and e <= b]
        rec = span_extraction("x", text[a:b], types, {"Species": found}, type_="NER")
        return count_tokens(render_chat(rec["messages"]))

    windows = fit_windows(text, spans, max_len, item_tokens, count_tokens)
    assert len(windows) > 3  # a full PMC text is far longer than 512 tokens
    assert all(item_tokens(a, b) <= max_len for a, b in windows)
    _check(text, spans, windows, 10**9, count_tokens)
    assert sorted(i for w in windows for i in spans_within(w, spans)) == list(range(len(spans)))
    # windows are filled: all but the last use at least half the budget
    assert all(item_tokens(a, b) > max_len // 2 for a, b in windows[:-1])
