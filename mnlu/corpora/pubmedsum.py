"""PubMedSum (Cohan et al. 2018): `pubmed-dataset/{train,val,test}.txt`, JSON Lines, one paper per line.

`article_text` is a list of (lower-cased, tokenised) sentences; `abstract_text` is a list of sentences wrapped
in `<S> … </S>`, which are stripped. Papers are longer than the 2,048-token budget, so the article is cut by
whole sentences (see item_helpers.fit_to_budget); the abstract is kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import fit_to_budget
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_jsonl
from mnlu.prompts import summarization
from mnlu.splits import split_of_name

SENTENCE_TAG = re.compile(r"</?S>")
INSTRUCTION = "Write the abstract of the biomedical article."


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(s, str) for s in value)


def strip_sentence_tags(sentences: list[str]) -> str:
    return " ".join(" ".join(SENTENCE_TAG.sub(" ", s).split()) for s in sentences).strip()


@register("pubmedsum", "PubMed summarization (Cohan et al. 2018)", ("summarization",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = sorted(p for p in find_files(root, "*.txt") if p.stem in ("train", "val", "test"))
    if not files:
        raise CorpusUnavailable(root, "no pubmed-dataset/{train,val,test}.txt files here")
    for path in files:
        split = split_of_name(path.stem)
        assert split is not None  # the stems above all name a split
        for line, row in read_jsonl(path, on_bad=ctx.bad):
            if not isinstance(row, dict) or not isinstance(row.get("article_id"), str):
                ctx.bad(FormatError(path, "expected an object with a string 'article_id'", line=line))
                continue
            article, abstract = row.get("article_text"), row.get("abstract_text")
            if not _is_str_list(article) or not _is_str_list(abstract):
                ctx.bad(FormatError(path, "'article_text' and 'abstract_text' must be lists of strings", line=line))
                continue
            sentences = [" ".join(s.split()) for s in article if s.strip()]
            summary = strip_sentence_tags(abstract)
            if not sentences or not summary:
                ctx.bad(FormatError(path, "empty article or abstract", line=line))
                continue
            pid = f"pubmedsum-{row['article_id']}"

            def build(k: int, pid: str = pid, sentences: list[str] = sentences, summary: str = summary) -> dict:
                return summarization(
                    pid, " ".join(sentences[:k]), summary, type_="article abstract", instruction=INSTRUCTION
                )

            yield TaskItem(split, "summarization", fit_to_budget(build, len(sentences), ctx))
