"""EU-ADR (van Mulligen et al. 2012): drug–disorder, drug–target and target–disorder relations.

The original `euadr_corpus/<PMID>.txt` files hold annotations only (the abstract text must be fetched from PubMed),
so the converter reads the sentence-level release of the IBI group that carries the text (the source of BioBERT's
EU-ADR RE set): `EUADR_{drug_disease,drug_target,target_disease}.csv`, tab-separated, quoted, with header
`ASSOCIATION_TYPE PMID NUM_SENTENCE ENTITY1_TEXT ENTITY1_INI ENTITY1_END ENTITY1_TYPE ENTITY2_TEXT ENTITY2_INI
ENTITY2_END ENTITY2_TYPE SENTENCE` (offsets into SENTENCE, checked). Each row is one RE item about its two marked
entities. PA / SA / NA are positive, speculative and negative associations; FA (a false association: no relation
stated) is the negative option. The files are ASCII or Latin-1 (read as UTF-8, else Latin-1). No official split: abstracts are split by a seeded hash of the PMID.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora._public_common import Pair, relation_items
from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError, OffsetMismatch
from mnlu.formats.tabular import read_delimited
from mnlu.splits import seeded_split

CORPUS = "euadr"
LABELS = {"PA": "positive association", "SA": "speculative association", "NA": "negative association"}
NEGATIVE = "FA"
NOUNS = {"Diseases & Disorders": "disorder", "Chemicals & Drugs": "drug", "Genes & Molecular Sequences": "target",
         "SNP & Sequence variations": "sequence variant"}
COLUMNS = ("ASSOCIATION_TYPE", "PMID", "NUM_SENTENCE", "ENTITY1_TEXT", "ENTITY1_INI", "ENTITY1_END",
           "ENTITY1_TYPE", "ENTITY2_TEXT", "ENTITY2_INI", "ENTITY2_END", "ENTITY2_TYPE", "SENTENCE")


def _entity(row: dict[str, str], n: int, path: Path, line: int) -> Mention:
    text, sentence = row[f"ENTITY{n}_TEXT"], row["SENTENCE"]
    try:
        s, e = int(row[f"ENTITY{n}_INI"]), int(row[f"ENTITY{n}_END"])
    except ValueError:
        raise FormatError(path, f"ENTITY{n}_INI/END must be integers", line=line) from None
    if not 0 <= s < e <= len(sentence) or sentence[s:e] != text:
        raise OffsetMismatch(path, f"ENTITY{n} at {s}-{e} does not match its text in SENTENCE", line=line, offset=s)
    etype = row[f"ENTITY{n}_TYPE"]
    if etype not in NOUNS:
        raise FormatError(path, f"ENTITY{n}_TYPE {etype!r}; expected one of {list(NOUNS)}", line=line)
    return Mention(s, e, etype, f"e{n}")


@register(CORPUS, "EU-ADR corpus (IBI sentence-level release)", ("RE",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    files = find_files(root, "EUADR_*.csv")
    if not files:
        raise CorpusUnavailable(root, "no EUADR_{drug_disease,drug_target,target_disease}.csv (IBI group release); "
                                "the original euadr_corpus/ files carry no text")
    for path in files:
        group = path.stem.removeprefix("EUADR_")
        for line, row in read_delimited(path, delimiter="\t", required=COLUMNS, on_bad=ctx.bad,
                                         fallback_encoding="latin-1"):
            label = row["ASSOCIATION_TYPE"]
            try:
                if label not in LABELS and label != NEGATIVE:
                    raise FormatError(path, f"ASSOCIATION_TYPE {label!r}; expected PA, SA, NA or FA", line=line)
                first, second = _entity(row, 1, path, line), _entity(row, 2, path, line)
            except FormatError as e:
                ctx.bad(e)
                continue
            pmid = row["PMID"].strip()
            doc_id = f"{group}-{pmid}-{row['NUM_SENTENCE'].strip()}-L{line}"
            pair = Pair("e1", "e2", LABELS.get(label))
            yield from relation_items(ctx, CORPUS, seeded_split(pmid, ctx.seed), doc_id, row["SENTENCE"],
                                      [first, second], [pair], list(LABELS.values()), path=path,
                                      describe=lambda t: NOUNS[t])
