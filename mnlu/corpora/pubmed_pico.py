"""PubMed PICO (Jin & Szolovits 2018): PICO element detection, as sentence spans of each abstract.

Native files: `splitted/PICO_{train,dev,test}.txt` (dev → train, `mnlu.splits`), else the unsplit
`structured_abstracts_sentences_PICO.txt` (seeded split by PMID). A line `###<PMID>` starts an abstract, then one
line per sentence, `<HEADING>|<LABEL>|<sentence>`, and a blank line ends it. The abstract text is its sentences
joined by one space; each sentence is a span of its label's type. Read as UTF-8, falling back to Latin-1 (one
known reader opens these files as Latin-1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import PICO, doc_ner_items
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.brat import read_text_file
from mnlu.formats.errors import FormatError
from mnlu.splits import seeded_split, split_of_name

CORPUS = "pubmed_pico"
LABELS = {"A": "Aim", "P": "Participants", "I": "Intervention", "O": "Outcome", "M": "Method", "R": "Results",
          "C": "Conclusion"}
TYPES = {
    "Aim": "a sentence stating the aim or background of the study",
    "Participants": "a sentence describing the participants (population, condition)",
    "Intervention": "a sentence describing the intervention or comparison",
    "Outcome": "a sentence describing the outcomes measured",
    "Method": "a sentence describing the study design or methods",
    "Results": "a sentence reporting results",
    "Conclusion": "a sentence stating conclusions",
}


def read_abstracts(path: Path, ctx: ConvertContext) -> Iterator[tuple[str, str, list[tuple[int, int, str]]]]:
    """(PMID, text, sentence spans) per abstract; an abstract with a bad line is reported and skipped."""
    pmid: str | None = None
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    bad = False
    pos = 0

    def done() -> tuple[str, str, list] | None:
        return (pmid, " ".join(parts), spans) if pmid and parts and not bad else None

    for lineno, raw in enumerate(read_text_file(path, "latin-1").split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.startswith("###"):
            item = done()
            if item:
                yield item
            pmid, parts, spans, bad, pos = line[3:].strip(), [], [], False, 0
            continue
        if not line.strip():
            continue
        fields = line.split("|", 2)
        if pmid is None or len(fields) != 3 or fields[1] not in LABELS or not fields[2].strip():
            ctx.bad(FormatError(path, "expected '###PMID' or 'HEADING|LABEL|sentence' with LABEL in "
                                f"{list(LABELS)}", line=lineno))
            bad = True
            continue
        sentence = fields[2].strip()
        if parts:
            pos += 1
        spans.append((pos, pos + len(sentence), LABELS[fields[1]]))
        parts.append(sentence)
        pos += len(sentence)
    item = done()
    if item:
        yield item


@register(CORPUS, "PubMed PICO element detection (Jin & Szolovits 2018)", ("events",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    split_files = sorted(p for p in find_files(root, "PICO_*.txt") if p.stem.split("_")[-1] in ("train", "dev", "test"))
    whole = find_files(root, "structured_abstracts_sentences_PICO.txt")
    if not split_files and not whole:
        raise CorpusUnavailable(root, "no splitted/PICO_{train,dev,test}.txt or structured_abstracts_sentences_PICO.txt")
    for path in split_files or whole:
        fixed = split_of_name(path.stem.split("_")[-1])
        for pmid, text, spans in read_abstracts(path, ctx):
            split = fixed if split_files else seeded_split(pmid, ctx.seed)
            yield from doc_ner_items(ctx, CORPUS, split, path, pmid, text, spans, TYPES, (), **PICO)
