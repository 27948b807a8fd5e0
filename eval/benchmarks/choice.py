"""Multiple-choice benchmarks: relation extraction (ChemProt, DDI, GAD, i2b2-2010), QA (PubMedQA, BioASQ),
NLI (MedNLI), sentence similarity (BIOSSES, MedSTS) and multi-label document classification (HoC).

Every record is built by `mnlu.prompts` (multiple_choice, multi_label_choice, nli, sts); the dataset labels map to
option texts here, and the official scorers map a parsed answer back to the dataset's label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.benchmarks.base import EvalItem, OfficialScore, prompt_id
from eval.benchmarks.readers import read_json, read_jsonl, read_tsv, require
from eval.scoring import metrics
from mnlu.formats.errors import FormatError
from mnlu.prompts import (
    is_empty_answer,
    multi_label_choice,
    multiple_choice,
    nli,
    parse_choice,
    parse_multi_choice,
    sts,
)
from mnlu.schema import split_options

UNPARSED = "<unparsed>"


def _choices(items: list[EvalItem], predictions: Mapping[str, str], labels: Sequence[str]):
    """(gold labels, predicted labels, unparsed count, errors) where labels[i] is option i's dataset label."""
    gold, pred, errors = [], [], []
    unparsed = 0
    for item in items:
        options = split_options(item.record["options"])
        idx = parse_choice(predictions.get(item.prompt_id, ""), options, option_text=True)
        unparsed += idx is None
        p = labels[idx] if idx is not None else UNPARSED
        gold.append(item.gold)
        pred.append(p)
        if p != item.gold:
            errors.append({"prompt_id": item.prompt_id, "source": item.source_id, "FP": p, "FN": item.gold})
    return gold, pred, unparsed, errors


# --------------------------------------------------------------------------------------- relation extraction


@dataclass(frozen=True)
class RelationScheme:
    question: str
    labels: tuple[str, ...]  # dataset labels, in option order
    options: tuple[str, ...]  # option texts shown to the model
    negative: str
    type_: str

    def __post_init__(self) -> None:
        assert len(self.labels) == len(self.options) and self.negative in self.labels


CHEMPROT = RelationScheme(
    "Which relation does the text state between the chemical marked @CHEMICAL$ and the gene or protein marked "
    "@GENE$ (@CHEM-GENE$ marks a mention that is both)?",
    ("CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "false"),
    ("upregulator or activator", "downregulator or inhibitor", "agonist", "antagonist", "substrate or product",
     "none"),
    "false", "chemical protein relation",
)
DDI = RelationScheme(
    "Which interaction does the text state between the two drugs marked @DRUG$?",
    ("DDI-mechanism", "DDI-effect", "DDI-advise", "DDI-int", "DDI-false"),
    ("mechanism (pharmacokinetic)", "effect (pharmacodynamic)", "advice (a recommendation)",
     "interaction (without detail)", "none"),
    "DDI-false", "drug drug interaction",
)
GAD = RelationScheme(
    "Does the text state an association between the gene marked @GENE$ and the disease marked @DISEASE$?",
    ("1", "0"), ("yes", "no"), "0", "gene disease association",
)
I2B2_2010 = RelationScheme(
    "Which relation does the clinical text state between the two concepts marked @problem$, @treatment$ or "
    "@test$ (a combined mark such as @problem-treatment$ covers both)?",
    ("TrIP", "TrWP", "TrCP", "TrAP", "TrNAP", "TeRP", "TeCP", "PIP", "false"),
    ("treatment improves problem", "treatment worsens problem", "treatment causes problem",
     "treatment is administered for problem", "treatment is not administered because of problem",
     "test reveals problem", "test conducted to investigate problem", "problem indicates problem", "none"),
    "false", "clinical relation",
)


def relation_loader(dataset: str, scheme: RelationScheme, *, header: bool, quoting: bool, id_column: bool = True):
    columns = ["index", "sentence", "label"] if id_column else ["sentence", "label"]

    def load(path: Path, split: str) -> list[EvalItem]:
        items = []
        for i, (lineno, row) in enumerate(read_tsv(path, None if header else columns, header=header,
                                                   quoting=quoting)):
            if header and set(columns) - set(row):
                raise FormatError(path, f"columns {sorted(row)}; expected {columns}", line=1)
            label = row["label"].strip()
            if label not in scheme.labels:
                raise FormatError(path, f"label {label!r}; expected one of {list(scheme.labels)}", line=lineno)
            record = multiple_choice(
                prompt_id(dataset, split, i), scheme.question, scheme.options, scheme.labels.index(label),
                type_=scheme.type_, text=row["sentence"].strip(), task="classification",
            )
            items.append(EvalItem(record, label, row.get("index", f"line {lineno}")))
        return items

    return load


def relation_official(scheme: RelationScheme, *, average: str = "micro"):
    positives = [lab for lab in scheme.labels if lab != scheme.negative]

    def score(items: list[EvalItem], predictions: Mapping[str, str]) -> OfficialScore:
        gold, pred, unparsed, errors = _choices(items, predictions, scheme.labels)
        if average == "micro":
            r = metrics.micro_f1(gold, pred, positives)
            return OfficialScore(r.f1, f"micro F1 without '{scheme.negative}'", len(items), unparsed,
                                 {"precision": r.precision, "recall": r.recall}, errors)
        f = metrics.macro_f1(gold, pred, positives)
        return OfficialScore(f, f"macro F1 over {len(positives)} types", len(items), unparsed, {}, errors)

    return score


# ------------------------------------------------------------------------------------------- similarity


def sts_loader(dataset: str, levels: Sequence[str], layout: str):
    """`layout` "blurb": `pair_id, sent1, sent2, score`; "glue": BLUE's STS-B style 10 columns."""

    def load(path: Path, split: str) -> list[EvalItem]:
        items = []
        cols = ("pair_id", "sent1", "sent2") if layout == "blurb" else ("index", "sentence1", "sentence2")
        for i, (lineno, row) in enumerate(read_tsv(path, None, header=True, quoting=layout != "blurb")):
            missing = [c for c in (*cols, "score") if c not in row]
            if missing:
                raise FormatError(path, f"missing column(s) {missing}", line=1)
            try:
                score = float(row["score"])
            except ValueError:
                raise FormatError(path, f"score {row['score']!r} is not a number", line=lineno) from None
            record = sts(prompt_id(dataset, split, i), row[cols[1]].strip(), row[cols[2]].strip(), score,
                         levels=levels, type_="sentence similarity")
            items.append(EvalItem(record, score, row[cols[0]]))
        return items

    return load


def sts_official(items: list[EvalItem], predictions: Mapping[str, str]) -> OfficialScore:
    """Pearson r between the chosen level and the real-valued gold score; an unparsed output counts as the
    first option, as the paper's scorer does."""
    gold, pred, errors = [], [], []
    unparsed = 0
    for item in items:
        options = split_options(item.record["options"])
        idx = parse_choice(predictions.get(item.prompt_id, ""), options, option_text=True)
        unparsed += idx is None
        level = float(options[idx if idx is not None else 0])
        gold.append(item.gold)
        pred.append(level)
        if idx is None or abs(level - item.gold) >= 0.5:
            errors.append({"prompt_id": item.prompt_id, "source": item.source_id, "FP": level, "FN": item.gold})
    return OfficialScore(metrics.pearson(gold, pred), "Pearson r", len(items), unparsed, {}, errors)


# ------------------------------------------------------------------------------------------ QA and NLI


def accuracy_official(labels: Sequence[str]):
    def score(items: list[EvalItem], predictions: Mapping[str, str]) -> OfficialScore:
        gold, pred, unparsed, errors = _choices(items, predictions, labels)
        return OfficialScore(metrics.accuracy(gold, pred), "accuracy", len(items), unparsed, {}, errors)

    return score


QA_QUESTION = "Answer the biomedical question from the medical text.\nQuestion: {question}"
PUBMEDQA_LABELS = ("yes", "no", "maybe")
BIOASQ_LABELS = ("yes", "no")
MEDNLI_LABELS = ("entailment", "neutral", "contradiction")


def pubmedqa_loader(dataset: str, ground_truth: str = "test_ground_truth.json"):
    """PubMedQA PQA-L: the split's labels (`test_ground_truth.json`, `{pmid: label}`) joined with the questions
    and contexts of `ori_pqal.json` in the same folder."""

    def load(path: Path, split: str) -> list[EvalItem]:
        truth = read_json(path)
        source = path.parent / "ori_pqal.json"
        if not source.exists():
            raise FileNotFoundError(f"{dataset}: {source} not found; PubMedQA needs ori_pqal.json beside {path.name}")
        pqal = read_json(source)
        if not isinstance(truth, dict) or not isinstance(pqal, dict):
            raise FormatError(path, "expected JSON objects keyed by PMID")
        items = []
        for i, (pmid, label) in enumerate(truth.items()):
            if label not in PUBMEDQA_LABELS:
                raise FormatError(path, f"PMID {pmid}: label {label!r}; expected one of {list(PUBMEDQA_LABELS)}")
            entry = pqal.get(pmid)
            if not isinstance(entry, dict) or "QUESTION" not in entry or "CONTEXTS" not in entry:
                raise FormatError(source, f"PMID {pmid}: missing, or without QUESTION and CONTEXTS")
            record = multiple_choice(
                prompt_id(dataset, split, i), QA_QUESTION.format(question=entry["QUESTION"]), PUBMEDQA_LABELS,
                PUBMEDQA_LABELS.index(label), type_="biomedical question answering",
                text=" ".join(entry["CONTEXTS"]), task="QA",
            )
            items.append(EvalItem(record, label, f"PMID {pmid}"))
        return items

    return load


def bioasq_loader(dataset: str):
    """BLURB's BioASQ yes/no: headerless `id<TAB>question<TAB>context<TAB>label`."""

    def load(path: Path, split: str) -> list[EvalItem]:
        items = []
        cols = ["id", "question", "context", "label"]
        for i, (lineno, row) in enumerate(read_tsv(path, cols, header=False, quoting=False)):
            label = row["label"].strip()
            if label not in BIOASQ_LABELS:
                raise FormatError(path, f"label {label!r}; expected one of {list(BIOASQ_LABELS)}", line=lineno)
            record = multiple_choice(
                prompt_id(dataset, split, i), QA_QUESTION.format(question=row["question"].strip()), BIOASQ_LABELS,
                BIOASQ_LABELS.index(label), type_="biomedical question answering", text=row["context"].strip(),
                task="QA",
            )
            items.append(EvalItem(record, label, row["id"]))
        return items

    return load


def mednli_loader(dataset: str):
    """MedNLI as distributed by PhysioNet: JSONL with `sentence1`, `sentence2`, `gold_label`, `pairID`."""

    def load(path: Path, split: str) -> list[EvalItem]:
        items = []
        for i, (lineno, row) in enumerate(read_jsonl(path)):
            label = require(path, lineno, row, "gold_label")
            if label not in MEDNLI_LABELS:
                raise FormatError(path, f"gold_label {label!r}; expected one of {list(MEDNLI_LABELS)}", line=lineno)
            record = nli(prompt_id(dataset, split, i), require(path, lineno, row, "sentence1"),
                         require(path, lineno, row, "sentence2"), label, labels=MEDNLI_LABELS)
            items.append(EvalItem(record, label, str(row.get("pairID", f"line {lineno}"))))
        return items

    return load


# ------------------------------------------------------------------------------------------------- HoC

HOC_LABELS = (
    "activating invasion and metastasis", "avoiding immune destruction", "cellular energetics",
    "enabling replicative immortality", "evading growth suppressors", "genomic instability and mutation",
    "inducing angiogenesis", "resisting cell death", "sustaining proliferative signaling",
    "tumor promoting inflammation",
)  # BLURB's label k is HOC_LABELS[k] (alphabetical, as in BLUE's eval_hoc.LABELS)
HOC_QUESTION = "Which hallmarks of cancer does the abstract discuss?"


def _hoc_record(dataset: str, split: str, i: int, text: str, labels: set[str]) -> dict:
    return multi_label_choice(prompt_id(dataset, split, i), HOC_QUESTION, HOC_LABELS,
                              sorted(HOC_LABELS.index(lab) for lab in labels), type_="hallmarks of cancer",
                              text=text)


def hoc_blurb_loader(dataset: str):
    """BLURB: one row per sentence (`labels, sentence, index` with `k_v` flags and `PMID_sN`); one record per
    abstract, its labels the OR of its sentences'."""

    def load(path: Path, split: str) -> list[EvalItem]:
        docs: dict[str, tuple[list[str], set[str]]] = {}
        for lineno, row in read_tsv(path, ["labels", "sentence", "index"], header=True, quoting=False):
            pmid = row["index"].split("_s")[0]
            flags = row["labels"].split(",")
            if len(flags) != len(HOC_LABELS) or any(f.partition("_")[2] not in ("0", "1") for f in flags):
                raise FormatError(path, "labels: expected 10 comma-separated k_v flags (v 0 or 1)", line=lineno)
            sents, labs = docs.setdefault(pmid, ([], set()))
            sents.append(row["sentence"].strip())
            labs.update(HOC_LABELS[int(f.partition("_")[0])] for f in flags if f.endswith("_1"))
        return [EvalItem(_hoc_record(dataset, split, i, " ".join(s), labs), frozenset(labs), f"PMID {pmid}")
                for i, (pmid, (s, labs)) in enumerate(docs.items())]

    return load


def hoc_blue_loader(dataset: str):
    """BLUE split (as in the gpt_bionlp copy): one row per abstract, `pmid, text, labels` (`;`-joined names)."""

    def load(path: Path, split: str) -> list[EvalItem]:
        items = []
        for i, (lineno, row) in enumerate(read_tsv(path, ["pmid", "text", "labels"], header=True, quoting=True)):
            labs = {lab.strip() for lab in row["labels"].split(";") if lab.strip()}
            unknown = labs - set(HOC_LABELS)
            if unknown:
                raise FormatError(path, f"unknown label(s) {sorted(unknown)}", line=lineno)
            items.append(EvalItem(_hoc_record(dataset, split, i, row["text"].strip(), labs), frozenset(labs),
                                  f"PMID {row['pmid']}"))
        return items

    return load


def hoc_official(kind: str) -> Callable[[list[EvalItem], Mapping[str, str]], OfficialScore]:
    def score(items: list[EvalItem], predictions: Mapping[str, str]) -> OfficialScore:
        gold, pred, errors = [], [], []
        unparsed = 0
        for item in items:
            out = predictions.get(item.prompt_id, "")
            idx = parse_multi_choice(out, HOC_LABELS)
            unparsed += not idx and not is_empty_answer(out)
            p = {HOC_LABELS[i] for i in idx}
            gold.append(set(item.gold))
            pred.append(p)
            if p != item.gold:
                errors.append({"prompt_id": item.prompt_id, "source": item.source_id,
                               "FP": sorted(p - item.gold), "FN": sorted(item.gold - p)})
        if kind == "pooled":
            r = metrics.pooled_micro_f1(gold, pred)
            name = "micro F1 pooled over abstracts x labels"
        else:
            r = metrics.example_based_f1(gold, pred)
            name = "example-based F1"
        return OfficialScore(r.f1, name, len(items), unparsed, {"precision": r.precision, "recall": r.recall},
                             errors)

    return score

