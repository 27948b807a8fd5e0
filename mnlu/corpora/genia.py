"""GENIA term corpus 3.02: nested NER over 5 types (DNA, RNA, protein, cell_line, cell_type).

Native file: `GENIA_term_3.02/GENIAcorpus3.02.xml` — `<article>`s whose `<sentence>`s hold **nested inline**
`<cons sem="G#…">` terms, no offsets. The text of an article is its sentences joined by one space (title first);
offsets come from walking the elements. Types follow the usual nested-GENIA convention (Finkel & Manning 2009,
cited by the paper through Yu et al. 2020): `G#DNA_*` → DNA, `G#RNA_*` → RNA, `G#protein_*` → protein,
`G#cell_line`, `G#cell_type`; other classes are dropped. A coordinated term `(AND G#x G#y)` is kept as one mention
when all its classes map to one type; `cons` without `sem` (coordination fragments) are not mentions.
Split: no official file; the first 90% of articles (file order) are train, the rest test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from mnlu.corpora._public_common import span_items, span_types
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.splits import leading_split

CORPUS = "genia"
TYPES = {
    "DNA": "a DNA molecule, domain, region or family",
    "RNA": "an RNA molecule or family",
    "protein": "a protein molecule, complex, domain, subunit or family",
    "cell_line": "a cell line",
    "cell_type": "a cell type",
}
_CLASS = re.compile(r"G#(\w+)")


def genia_type(sem: str | None) -> str | None:
    """The 5-type class of a `sem` value (also boolean ones), or None."""
    if not sem:
        return None
    mapped = set()
    for cls in _CLASS.findall(sem):
        if cls.startswith("DNA_"):
            mapped.add("DNA")
        elif cls.startswith("RNA_"):
            mapped.add("RNA")
        elif cls.startswith("protein_"):
            mapped.add("protein")
        elif cls in ("cell_line", "cell_type"):
            mapped.add(cls)
        else:
            return None
    return mapped.pop() if len(mapped) == 1 else None


def _walk(elem: etree._Element, buf: list[str], pos: int, out: list[Mention]) -> int:
    """Append elem's text to buf, recording `cons` mentions; return the new position."""
    start = pos
    if elem.text:
        buf.append(elem.text)
        pos += len(elem.text)
    for child in elem:
        if isinstance(child.tag, str):
            pos = _walk(child, buf, pos, out)
        if child.tail:
            buf.append(child.tail)
            pos += len(child.tail)
    if elem.tag == "cons":
        t = genia_type(elem.get("sem"))
        if t is not None and pos > start:
            out.append(Mention(start, pos, t))
    return pos


def read_articles(path: Path) -> Iterator[tuple[str, str, list[Mention], int]]:
    """(MEDLINE id, text, mentions, source line) per article."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as e:
        raise FormatError(path, f"not well-formed XML ({e.msg})", line=e.lineno) from None
    for n, article in enumerate(root.iter("article")):
        medline = (article.findtext("articleinfo/bibliomisc") or "").strip()
        doc_id = medline.replace("MEDLINE:", "") or f"article{n}"
        buf: list[str] = []
        mentions: list[Mention] = []
        pos = 0
        for sentence in article.iter("sentence"):
            if buf:
                buf.append(" ")
                pos += 1
            pos = _walk(sentence, buf, pos, mentions)
        yield doc_id, "".join(buf), mentions, article.sourceline or 0


@register(CORPUS, "GENIA term corpus 3.02", ("events",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = find_files(root, "GENIAcorpus3.02*.xml")
    if not files:
        raise CorpusUnavailable(root, "no GENIA_term_3.02/GENIAcorpus3.02.xml here")
    for path in files:
        articles = list(read_articles(path))
        for i, (doc_id, text, mentions, _) in enumerate(articles):
            split = leading_split(i, len(articles))
            yield from span_items(ctx, CORPUS, split, doc_id, text, mentions, span_types(TYPES), path=path)
