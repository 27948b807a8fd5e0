"""The real Mistral-7B v0.1 tokenizer (the one BioMistral uses), as a `tokenizers` object and an HF directory.

The SentencePiece model ships in the PyPI package `mistral-common` (`data/tokenizer.model.v1`). We read its
protobuf ourselves (no sentencepiece at run time) and build a byte-fallback BPE whose merges are ranked by the
SentencePiece score of the merged piece, with the normalizer Prepend("▁") + Replace(" ", "▁") and no
pre-tokenizer: that reproduces SentencePiece exactly, whitespace included (design.md §3), unlike the conversion
transformers 5 applies to a bare `tokenizer.model`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnlu.prompts import CHAT_TEMPLATE

TOKENIZER_SHA256 = "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055"
BOS, EOS, UNK = "<s>", "</s>", "<unk>"
BOS_ID, EOS_ID, UNK_ID = 1, 2, 0
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

# SentencePiece piece types (sentencepiece_model.proto).
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6


def sentencepiece_model_path() -> Path:
    """Path of the Mistral v0.1 SentencePiece model inside the installed `mistral-common` package."""
    from importlib.util import find_spec

    spec = find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package 'mistral-common' is not installed; it ships the Mistral tokenizer file")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "tokenizer.model.v1"
    if not path.is_file():
        raise RuntimeError(f"{path}: missing; expected the Mistral v0.1 tokenizer shipped by mistral-common")
    return path


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """Protobuf wire-format fields (number, wire type, value); only the types the model file uses."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield num, wire, val


def read_sentencepiece_pieces(path: Path) -> list[tuple[str, float, int]]:
    """(piece, score, type) for every piece of a SentencePiece ModelProto, in id order."""
    data = path.read_bytes()
    pieces = []
    for num, _, val in _fields(data):
        if num != 1:  # ModelProto.pieces
            continue
        piece, score, ptype = "", 0.0, _NORMAL
        for f, _, v in _fields(val):
            if f == 1:
                piece = v.decode("utf-8")
            elif f == 2:
                score = struct.unpack("<f", v)[0]
            elif f == 3:
                ptype = v
        pieces.append((piece, score, ptype))
    return pieces


def _bpe_merges(pieces: list[tuple[str, float, int]]) -> list[tuple[str, str]]:
    """Every (left, right) pair whose concatenation is a normal piece, ranked by that piece's score."""
    vocab = {p: i for i, (p, _, t) in enumerate(pieces) if t == _NORMAL}
    ranked = []
    for merged, idx in vocab.items():
        for cut in range(1, len(merged)):
            left, right = merged[:cut], merged[cut:]
            if left in vocab and right in vocab:
                ranked.append((-pieces[idx][1], idx, vocab[left], vocab[right], left, right))
    ranked.sort()
    return [(r[4], r[5]) for r in ranked]


@functools.lru_cache(maxsize=1)
def tokenizer_json() -> str:
    """The `tokenizer.json` text of the Mistral v0.1 tokenizer (deterministic)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

    path = sentencepiece_model_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != TOKENIZER_SHA256:
        raise RuntimeError(f"{path}: sha256 {digest[:12]}…, expected the Mistral v0.1 tokenizer {TOKENIZER_SHA256[:12]}…")
    pieces = read_sentencepiece_pieces(path)
    vocab = {p: i for i, (p, _, _) in enumerate(pieces)}
    bpe = models.BPE(vocab=vocab, merges=_bpe_merges(pieces), unk_token=UNK, fuse_unk=True, byte_fallback=True)
    tok = Tokenizer(bpe)
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in (UNK, BOS, EOS)])
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS}:0 $A:0", pair=f"{BOS}:0 $A:0 {BOS}:1 $B:1", special_tokens=[(BOS, BOS_ID)]
    )
    return tok.to_str()


@functools.lru_cache(maxsize=1)
def get_tokenizer():
    """The tokenizer as a `tokenizers.Tokenizer` (adds `<s>` when `add_special_tokens=True`)."""
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tokenizer_json())


@functools.lru_cache(maxsize=1 << 15)
def count_tokens(text: str) -> int:
    """Number of tokens of `text` without special tokens (for windowing and statistics).

    Memoised: fitting items to the budget counts the same window or item text several times (a third of the
    calls when converting the shared samples are repeats), and encoding is the costly part of a build. The
    cache holds at most 32768 texts (about 20 MB for typical windows)."""
    return len(get_tokenizer().encode(text, add_special_tokens=False).ids)


def tokenizer_config() -> dict[str, Any]:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": UNK,
        "pad_token": None,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": 32768,
        "padding_side": "left",
        "chat_template": CHAT_TEMPLATE,
    }


def write_tokenizer_dir(path: str | os.PathLike) -> Path:
    """Write tokenizer.json, tokenizer_config.json (with the paper's chat template) and special_tokens_map.json."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "tokenizer.json": tokenizer_json(),
        "tokenizer_config.json": json.dumps(tokenizer_config(), indent=2, ensure_ascii=False) + "\n",
        "special_tokens_map.json": json.dumps({"bos_token": BOS, "eos_token": EOS, "unk_token": UNK}, indent=2) + "\n",
    }
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
    return out
