"""The bundled Mistral v0.1 tokenizer equals SentencePiece exactly and carries the paper's chat template."""

from __future__ import annotations

import random

import pytest
import sentencepiece as spm
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mnlu.prompts import CHAT_TEMPLATE, assistant_char_spans, render_chat
from mnlu.tokenizer import get_tokenizer, sentencepiece_model_path, write_tokenizer_dir


@pytest.fixture(scope="module")
def sp():
    return spm.SentencePieceProcessor(model_file=str(sentencepiece_model_path()))


@pytest.fixture(scope="module")
def hf_tok(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(write_tokenizer_dir(tmp_path_factory.mktemp("tok")))


def _random_strings(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pools = [
        list("abcdefghijklmnopqrstuvwxyz ABCDEFG.,;:!?-'\"()[]0123456789"),
        list(" \t\n") + ["  ", "   ", "\n\n", " \n ", "\t\t"],  # whitespace-heavy
        list("éèàüößçñøåæœ") + ["中文", "日本語", "한국어", "Ελληνικά", "русский", "😀", "∑∫≤", "\u200b", "\u00a0"],
        ["mg", "IL-2", "p53", "TNF-α", "5-FU", "Na+", "q.d.", "b.i.d.", "  mg/kg", "\r\n"],
    ]
    out = []
    for _ in range(n):
        pool = rng.choice(pools) + rng.choice(pools)
        out.append("".join(rng.choice(pool) for _ in range(rng.randint(0, 60))))
    return out


def test_equals_sentencepiece_on_thousands_of_random_strings(sp):
    tok = get_tokenizer()
    strings = _random_strings(4000, seed=0) + ["", " ", "  ", "\n", " leading", "trailing ", "a  b   c"]
    mismatches = [s for s in strings if tok.encode(s, add_special_tokens=False).ids != sp.encode(s)]
    assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:3]!r}"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_equals_sentencepiece_on_arbitrary_unicode(sp, text):
    # The special-token strings are the one intended difference: HF parses "</s>" in text as eos.
    assume(not any(t in text for t in ("<s>", "</s>", "<unk>")))
    assert get_tokenizer().encode(text, add_special_tokens=False).ids == sp.encode(text)


def test_hf_directory_matches_sentencepiece_with_bos_and_decodes(sp, hf_tok):
    for s in _random_strings(300, seed=1):
        assert hf_tok(s).input_ids == [1] + sp.encode(s)
        assert hf_tok.decode(hf_tok(s).input_ids, skip_special_tokens=True) == sp.decode(sp.encode(s))
    assert (hf_tok.bos_token_id, hf_tok.eos_token_id, hf_tok.unk_token_id) == (1, 2, 0)
    assert len(hf_tok) == 32000


def test_chat_template_renders_the_papers_format_exactly(hf_tok):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Extract.\nMedical text: aspirin 81 mg"},
        {"role": "assistant", "content": "Drug: aspirin"},
    ]
    expected = (
        "<|system|>\nYou are helpful.</s>\n<|user|>\nExtract.\nMedical text: aspirin 81 mg</s>\n"
        "<|assistant|>\nDrug: aspirin</s>\n"
    )
    assert hf_tok.chat_template == CHAT_TEMPLATE
    assert hf_tok.apply_chat_template(messages, tokenize=False) == expected == render_chat(messages)
    prompt = hf_tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt == render_chat(messages[:2], add_generation_prompt=True) == expected[: expected.index("<|assistant|>")] + "<|assistant|>\n"
    (start, end), = assistant_char_spans(messages)
    assert expected[start:end] == "Drug: aspirin</s>"
    # The eos string in the template becomes the eos token id.
    ids = hf_tok(expected, add_special_tokens=False).input_ids
    assert ids.count(2) == 3
