"""Shared helpers of the i2b2/n2c2 converter tests: build the distributed archives from fixture files, run a
converter, and check the invariants every clinical item must hold."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import mnlu.corpora  # noqa: F401  (registers every converter)
from mnlu.corpora.registry import ConvertContext, TaskItem, get_corpus
from mnlu.prompts import LETTERS, MEDICAL_TEXT, parse_span_answer
from mnlu.schema import answer_of, split_options, validate_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mnlu"


def fixture(corpus: str, name: str) -> bytes:
    return (FIXTURES / corpus / name).read_bytes()


def build_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def build_tar(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def convert(corpus: str, root: Path, **ctx_kwargs) -> tuple[list[TaskItem], ConvertContext]:
    ctx = ConvertContext(**ctx_kwargs)
    items = list(get_corpus(corpus).convert(root, ctx))
    return items, ctx


def medical_text(record: dict) -> str:
    user = record["messages"][1]["content"]
    assert MEDICAL_TEXT in user, record["prompt_id"]
    return user.split(MEDICAL_TEXT, 1)[1]


def check_items(items: list[TaskItem], corpus: str, max_seq_length: int | None = None) -> None:
    """Schema, unique ids in the documented shape, spans verbatim in the text, answers among the options."""
    from mnlu.prompts import render_chat
    from mnlu.tokenizer import count_tokens

    ids = Counter(it.record["prompt_id"] for it in items)
    assert not [k for k, v in ids.items() if v > 1], "duplicate prompt ids"
    for it in items:
        rec = it.record
        validate_record(rec, require_answer=True)
        family, name, split, _doc, n = rec["prompt_id"].split("/")
        assert (family, name, split) == (it.family, corpus, it.split) and n.isdigit()
        answer = answer_of(rec)
        text = medical_text(rec)
        if rec["task"] == "events":
            for spans in parse_span_answer(answer).values():
                for s in spans:
                    assert s in text, (rec["prompt_id"], s)
        else:
            options = split_options(rec["options"])
            assert answer[:3] in {f"({LETTERS[i]})" for i in range(len(options))}
            assert answer[4:] in options
        if max_seq_length is not None:
            assert count_tokens(render_chat(rec["messages"])) <= max_seq_length, rec["prompt_id"]


def answers(items: list[TaskItem], family: str | None = None) -> dict[str, str]:
    return {it.record["prompt_id"]: answer_of(it.record) for it in items if family in (None, it.family)}


def build_archives(corpus: str, dest: Path, archives: dict[str, str], mutate=None) -> Path:
    """Each fixture folder `<corpus>/<folder>` becomes the archive `archives[folder]` (zip or tar.gz) in `dest`,
    holding the folder's files under their paths relative to it; `mutate(member, data)` may change a file."""
    for folder, name in archives.items():
        base = FIXTURES / corpus / folder
        members = {}
        for p in sorted(base.rglob("*")):
            if p.is_file():
                rel = p.relative_to(base).as_posix()
                members[rel] = mutate(rel, p.read_bytes()) if mutate else p.read_bytes()
        (build_zip if name.endswith(".zip") else build_tar)(dest / name, members)
    return dest
