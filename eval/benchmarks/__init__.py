"""The registry of BLURB and BLUE datasets: short names, suites, folders, adapters and official scorers.

`--data-dir` holds one folder per dataset, named and laid out as in `shared/data/eval/` (and, for the
credentialed sets, as their distributors ship them after BLUE's/BLURB's conversion).
"""

from __future__ import annotations

from collections.abc import Iterable

from eval.benchmarks import choice as C
from eval.benchmarks import spans as S
from eval.benchmarks.base import BLURB_TASKS, Dataset, EvalItem, OfficialScore, dataset_of, prompt_id

_IOB = {"test": "test.tsv", "dev": "devel.tsv", "train": "train.tsv"}
CHEMICAL = S.EntityType("Chemical", "Chemical", "chemicals and drugs")
DISEASE = S.EntityType("Disease", "Disease", "diseases, disorders and their symptoms")
GENE = S.EntityType("GENE", "Gene", "genes and gene products such as proteins")
DISORDER = S.EntityType("Disorder", "Disorder", "clinical disorders: diseases, injuries, signs and symptoms")
JNLPBA_TYPES = (
    S.EntityType("protein", "Protein", "proteins, protein families, domains and complexes"),
    S.EntityType("DNA", "DNA", "DNA: genes, gene regions, promoters and other DNA sequences"),
    S.EntityType("RNA", "RNA", "RNA molecules and transcripts"),
    S.EntityType("cell_type", "Cell type", "types of cells"),
    S.EntityType("cell_line", "Cell line", "cell lines"),
)


def _ner(name, title, suites, folder, types, files=None, credentialed=False, **kw) -> Dataset:
    return Dataset(name, title, suites, "NER", "entity-level micro F1", folder, files or _IOB,
                   S.ner_loader(name, types, **kw), S.ner_official(types), credentialed)


def _re(name, title, suites, folder, files, scheme, average="micro", credentialed=False, **kw) -> Dataset:
    metric = "micro F1" if average == "micro" else "macro F1"
    return Dataset(name, title, suites, "RE", metric, folder, files, C.relation_loader(name, scheme, **kw),
                   C.relation_official(scheme, average=average), credentialed)


_ALL = [
    _ner("bc5chem", "BC5-chem", ("blurb", "blue"), "BC5CDR-chem", [CHEMICAL]),
    _ner("bc5disease", "BC5-disease", ("blurb", "blue"), "BC5CDR-disease", [DISEASE]),
    _ner("ncbi_disease", "NCBI-disease", ("blurb",), "NCBI-disease", [DISEASE]),
    _ner("bc2gm", "BC2GM", ("blurb",), "BC2GM", [GENE]),
    _ner("jnlpba", "JNLPBA", ("blurb",), "JNLPBA", list(JNLPBA_TYPES)),
    Dataset("ebm_pico", "EBM PICO", ("blurb",), "PICO", "word-level macro F1", "EBM-PICO",
            {"test": "test.tsv", "dev": "dev.tsv"}, S.pico_loader("ebm_pico"), S.pico_official),
    _re("chemprot", "ChemProt", ("blurb",), "ChemProt", {"test": "blurb/test.tsv", "dev": "blurb/dev.tsv"},
        C.CHEMPROT, header=False, quoting=False),
    _re("ddi", "DDI", ("blurb",), "DDI", {"test": "blurb/test.tsv", "dev": "blurb/dev.tsv"}, C.DDI,
        header=False, quoting=False),
    _re("gad", "GAD", ("blurb",), "GAD", {"test": "test.tsv", "dev": "dev.tsv", "train": "train.tsv"}, C.GAD,
        header=True, quoting=False),
    Dataset("biosses", "BIOSSES", ("blurb", "blue"), "SS", "Pearson r", "BIOSSES",
            {"test": "blurb/test.tsv", "dev": "blurb/dev.tsv", "train": "blurb/train.tsv"},
            C.sts_loader("biosses", ("0", "1", "2", "3", "4"), "blurb"), C.sts_official),
    Dataset("hoc", "HoC", ("blurb",), "DC", "micro F1 pooled over abstracts", "HoC",
            {"test": "blurb/test.tsv", "dev": "blurb/dev.tsv"}, C.hoc_blurb_loader("hoc"), C.hoc_official("pooled")),
    Dataset("pubmedqa", "PubMedQA", ("blurb",), "QA", "accuracy", "PubMedQA", {"test": "test_ground_truth.json"},
            C.pubmedqa_loader("pubmedqa"), C.accuracy_official(C.PUBMEDQA_LABELS)),
    Dataset("bioasq", "BioASQ", ("blurb",), "QA", "accuracy", "BioASQ",
            {"test": "test.tsv", "dev": "dev.tsv", "train": "train.tsv"}, C.bioasq_loader("bioasq"),
            C.accuracy_official(C.BIOASQ_LABELS), credentialed=True),
    # BLUE-only datasets, and BLUE's own split or metric of a shared one.
    Dataset("medsts", "MedSTS", ("blue",), "SS", "Pearson r", "MedSTS",
            {"test": "test.tsv", "dev": "dev.tsv", "train": "train.tsv"},
            C.sts_loader("medsts", ("0", "1", "2", "3", "4", "5"), "glue"), C.sts_official, credentialed=True),
    _ner("shareclefe", "ShARe/CLEFE", ("blue",), "ShARe-CLEFE", [DISORDER],
         {"test": "Test.tsv", "dev": "Development.tsv", "train": "Training.tsv"}, credentialed=True, blue_columns=True),
    _re("blue_ddi", "DDI (BLUE)", ("blue",), "DDI", {"test": "gpt_bionlp/test.tsv", "dev": "gpt_bionlp/dev.tsv"},
        C.DDI, average="macro", header=True, quoting=True),
    _re("blue_chemprot", "ChemProt (BLUE)", ("blue",), "ChemProt",
        {"test": "gpt_bionlp/test.tsv", "dev": "gpt_bionlp/dev.tsv"}, C.CHEMPROT, header=True, quoting=True),
    _re("i2b2_2010", "i2b2-2010", ("blue",), "i2b2-2010", {"test": "test.tsv", "dev": "dev.tsv", "train": "train.tsv"},
        C.I2B2_2010, credentialed=True, header=True, quoting=True),
    Dataset("blue_hoc", "HoC (BLUE)", ("blue",), "DC", "example-based F1", "HoC",
            {"test": "gpt_bionlp/test.tsv", "dev": "gpt_bionlp/dev.tsv"}, C.hoc_blue_loader("blue_hoc"),
            C.hoc_official("example")),
    Dataset("mednli", "MedNLI", ("blue",), "NLI", "accuracy", "MedNLI",
            {"test": "mli_test_v1.jsonl", "dev": "mli_dev_v1.jsonl", "train": "mli_train_v1.jsonl"},
            C.mednli_loader("mednli"), C.accuracy_official(C.MEDNLI_LABELS), credentialed=True),
]

DATASETS: dict[str, Dataset] = {d.name: d for d in _ALL}
SUITES: dict[str, tuple[str, ...]] = {
    "blurb": ("bc5chem", "bc5disease", "ncbi_disease", "bc2gm", "jnlpba", "ebm_pico", "chemprot", "ddi", "gad",
              "biosses", "hoc", "pubmedqa", "bioasq"),
    "blue": ("medsts", "biosses", "bc5disease", "bc5chem", "shareclefe", "blue_ddi", "blue_chemprot", "i2b2_2010",
             "blue_hoc", "mednli"),
}


class UnknownBenchmark(ValueError):
    pass


def resolve(names: str | Iterable[str]) -> list[Dataset]:
    """Suite and dataset names (comma-separated or a list) → datasets, in order, each once."""
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    out: list[Dataset] = []
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        if name in SUITES:
            picked = [DATASETS[n] for n in SUITES[name]]
        elif name in DATASETS:
            picked = [DATASETS[name]]
        else:
            raise UnknownBenchmark(
                f"unknown benchmark {raw.strip()!r}; expected a suite ({', '.join(SUITES)}) or a dataset "
                f"({', '.join(DATASETS)}); `mnlu eval --list` shows them"
            )
        out.extend(d for d in picked if d not in out)
    if not out:
        raise UnknownBenchmark("no benchmark named; expected a suite (blurb, blue) or dataset names")
    return out


__all__ = ["BLURB_TASKS", "DATASETS", "SUITES", "Dataset", "EvalItem", "OfficialScore", "UnknownBenchmark",
           "dataset_of", "prompt_id", "resolve"]
