"""The MNLU-Instruct mixture: which corpora, where their files are, and what fraction of each train split.

The paper's alignment-handbook `dataset_mixer` keeps every corpus whole except SNLI (0.03), MultiNLI (0.03) and
the RE half of the 2011 coreference corpus (0.24); a fraction keeps the first int(fraction × N) rows of that
corpus's train split (after duplicates are removed). The test split is never cut. Training shuffles the
mixed rows with the seed (`mix_records`), so the order on disk stays the corpus's own.

Config (YAML, `yaml.safe_load`; unknown keys are errors that list the valid ones):

    seed: 42
    max_seq_length: 2048
    max_train_rows: 200           # optional: at most this many rows of each corpus × family train split
    rename_types: 0.5             # optional: share of span train items with renamed types (mnlu.augment)
    split_sentences: true         # optional: span train items become one item per sentence (mnlu.augment)
    negative_types: 4             # optional: up to 4 absent types added to each span train item (mnlu.augment)
    corpora:                      # registry names; the build's folder name and output <corpus>
      snli: {fraction: 0.03}
      i2b2_2011_coref: {fraction: {RE: 0.24}}     # per family
      cdsr: {path: /data/cochrane/cdsr}           # instead of <raw>/cdsr; relative paths are under --raw
    dataset_mixer:                # optional: the paper's keys, as written in its config_full.yaml
      /dataset/final/train/NLI/snli: 0.03
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mnlu.schema import FAMILIES

# The paper's dataset_mixer names (README + config_full.yaml of uw-bionlp/BioMistral-NLU) → registry names.
PAPER_NAMES: dict[str, str] = {
    "2006smoker": "i2b2_2006_smoking",
    "2008obesity": "i2b2_2008_obesity",
    "2018cohort": "n2c2_2018_cohort",
    "2024SemEval": "semeval2024_task2_nli4ct",
    "Reason2StopQA": "trialstop",
    "MTSample": "mtsamples",
    "CZI_DRSM": "czi_drsm",
    "snli": "snli",
    "multinli": "multinli",
    "BioNLI": "bionli",
    "STS-B": "stsb",
    "CDSR": "cdsr",
    "PubMedSum": "pubmedsum",
    "AciDemo": "aci_bench",
    "DrugProt": "drugprot",
    "BioRed": "biored",
    "tmVar": "tmvar",
    "NLM-Gene": "nlm_gene",
    "GNormPlus": "gnormplus",
    "2006deid": "i2b2_2006_deid",
    "2009medication": "i2b2_2009_medication",
    "2011coreference": "i2b2_2011_coref",
    "2012temporal": "i2b2_2012_temporal",
    "2014PHI": "i2b2_2014_deid",
    "2018ade": "n2c2_2018_ade",
    "2022sdoh": "n2c2_2022_sdoh",
    "GENIA": "genia",
    "linnaeus": "linnaeus",
    "BC4CHEMD": "bc4chemd",
    "PICO-data": "pico_data_nguyen2017",
    "PubMedPICO": "pubmed_pico",
    "ClinicalIE_medication_attr": "clinical_ie",
    "ClinicalIE_medication_status": "clinical_ie",
    "euadr": "euadr",
}
# The 33 corpora in the paper's README order (NER, events, DC, RE, NLI, STS, summarization).
PAPER_CORPORA: tuple[str, ...] = (
    "i2b2_2006_deid", "i2b2_2011_coref", "i2b2_2012_temporal", "i2b2_2014_deid", "genia", "linnaeus", "tmvar",
    "drugprot", "biored", "gnormplus", "nlm_gene", "clinical_ie", "bc4chemd", "pubmed_pico",
    "pico_data_nguyen2017", "i2b2_2009_medication", "n2c2_2018_ade", "n2c2_2022_sdoh", "i2b2_2006_smoking",
    "i2b2_2008_obesity", "n2c2_2018_cohort", "semeval2024_task2_nli4ct", "trialstop", "mtsamples", "czi_drsm",
    "euadr", "bionli", "snli", "multinli", "stsb", "pubmedsum", "cdsr", "aci_bench",
)
PAPER_FRACTIONS: dict[str, dict[str, float]] = {
    "snli": {"*": 0.03},
    "multinli": {"*": 0.03},
    "i2b2_2011_coref": {"RE": 0.24},
}

TOP_KEYS = ("seed", "max_seq_length", "max_train_rows", "rename_types", "split_sentences", "negative_types",
            "corpora", "dataset_mixer")
CORPUS_KEYS = ("fraction", "path")
ALL_FAMILIES = "*"


class ConfigError(ValueError):
    """A config that does not follow the schema; the message names the file and the key."""


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    fractions: Mapping[str, float] = field(default_factory=dict)  # family (or "*") → fraction of train
    path: str | None = None

    def fraction(self, family: str) -> float:
        return self.fractions.get(family, self.fractions.get(ALL_FAMILIES, 1.0))


@dataclass(frozen=True)
class MixtureConfig:
    corpora: tuple[CorpusSpec, ...]
    seed: int = 42
    max_seq_length: int = 2048
    source: str = "built-in paper mixture"
    max_train_rows: int | None = None  # not the paper's: a demo-scale cap so no corpus swamps a short run
    rename_types: float = 0.0  # not the paper's: GoLLIE-style type-name renaming (mnlu.augment)
    split_sentences: bool = False  # not the paper's: sentence-level span train items (mnlu.augment)
    negative_types: int = 0  # not the paper's: UniversalNER-style absent types answered None (mnlu.augment)

    def __post_init__(self) -> None:  # here, not in parse_mixture, so command-line overrides are checked too
        cap = self.max_train_rows
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ConfigError(f"{self.source}: 'max_train_rows' must be a positive integer, got {cap!r}")
        object.__setattr__(self, "rename_types", _fraction(self.rename_types, f"{self.source}: rename_types"))
        if not isinstance(self.split_sentences, bool):
            raise ConfigError(f"{self.source}: 'split_sentences' must be true or false, got {self.split_sentences!r}")
        n = self.negative_types
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"{self.source}: 'negative_types' must be an integer >= 0 (the most absent types added "
                              f"to a span train item), got {n!r}")

    def spec(self, name: str) -> CorpusSpec:
        return next((c for c in self.corpora if c.name == name), CorpusSpec(name))

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "max_seq_length": self.max_seq_length,
            "max_train_rows": self.max_train_rows,
            "rename_types": self.rename_types,
            "split_sentences": self.split_sentences,
            "negative_types": self.negative_types,
            "corpora": {c.name: {"fraction": dict(c.fractions), "path": c.path} for c in self.corpora},
        }


def paper_mixture() -> MixtureConfig:
    """The paper's recipe over all 33 corpora (what configs/mnlu.yaml writes out)."""
    return MixtureConfig(tuple(CorpusSpec(n, PAPER_FRACTIONS.get(n, {})) for n in PAPER_CORPORA))


def _fraction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{where}: a fraction must be a number in [0, 1], got {value!r}")
    return float(value)


def _fractions(value: Any, where: str) -> dict[str, float]:
    if isinstance(value, Mapping):
        out = {}
        for family, f in value.items():
            if family not in FAMILIES and family != ALL_FAMILIES:
                raise ConfigError(f"{where}.{family}: unknown family; expected one of {list(FAMILIES)} or '*'")
            out[str(family)] = _fraction(f, f"{where}.{family}")
        return out
    return {ALL_FAMILIES: _fraction(value, where)}


def parse_mixture(data: Any, source: str = "<config>") -> MixtureConfig:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping with keys {list(TOP_KEYS)}")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; valid keys are {list(TOP_KEYS)}")
    seed, max_len = data.get("seed", 42), data.get("max_seq_length", 2048)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{source}: 'seed' must be an integer")
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 16:
        raise ConfigError(f"{source}: 'max_seq_length' must be an integer ≥ 16")
    specs: dict[str, CorpusSpec] = {}
    corpora = data.get("corpora") or {}
    if not isinstance(corpora, Mapping):
        raise ConfigError(f"{source}: 'corpora' must map corpus names to {{fraction, path}}")
    for name, entry in corpora.items():
        entry = entry or {}
        where = f"{source}: corpora.{name}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a mapping with keys {list(CORPUS_KEYS)}")
        bad = [k for k in entry if k not in CORPUS_KEYS]
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {bad}; valid keys are {list(CORPUS_KEYS)}")
        path = entry.get("path")
        if path is not None and not isinstance(path, str):
            raise ConfigError(f"{where}.path: expected a string")
        fractions = _fractions(entry["fraction"], f"{where}.fraction") if "fraction" in entry else {}
        specs[str(name)] = CorpusSpec(str(name), fractions, path)
    mixer = data.get("dataset_mixer") or {}
    if not isinstance(mixer, Mapping):
        raise ConfigError(f"{source}: 'dataset_mixer' must map dataset paths to fractions")
    for key, value in mixer.items():
        parts = str(key).rstrip("/").split("/")
        where = f"{source}: dataset_mixer[{key!r}]"
        if len(parts) < 2 or parts[-1] not in PAPER_NAMES or parts[-2] not in FAMILIES:
            raise ConfigError(f"{where}: expected '.../<family>/<paper name>' with a paper name among "
                              f"{sorted(PAPER_NAMES)}")
        name, family, fraction = PAPER_NAMES[parts[-1]], parts[-2], _fraction(value, where)
        spec = specs.get(name, CorpusSpec(name))
        if family in spec.fractions and spec.fractions[family] != fraction:
            raise ConfigError(f"{where}: fraction {fraction} conflicts with {spec.fractions[family]} for {name}")
        if spec.fraction(family) != fraction:
            spec = CorpusSpec(name, {**spec.fractions, family: fraction}, spec.path)
        specs[name] = spec
    return MixtureConfig(tuple(specs.values()), seed, max_len, source, data.get("max_train_rows"),
                         data.get("rename_types", 0.0), data.get("split_sentences", False),
                         data.get("negative_types", 0))


def load_mixture(path: str | Path | None) -> MixtureConfig:
    """The config at `path` (YAML), or the built-in paper mixture when `path` is None."""
    if path is None:
        return paper_mixture()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"{path}:{mark.line + 1 if mark else '?'}: not YAML") from None
    return parse_mixture(data, str(path))


def take_fraction(rows: Sequence[Any], fraction: float) -> list[Any]:
    """The first int(fraction × N) rows, as the paper's dataset_mixer does."""
    return list(rows[: int(fraction * len(rows))]) if fraction < 1.0 else list(rows)


def cap_rows(rows: Sequence[Any], cap: int | None) -> list[Any]:
    """At most `cap` rows, evenly spaced over the whole list (so a capped corpus keeps its variety, not only its
    first documents); all of them when there are no more than `cap`."""
    if cap is None or len(rows) <= cap:
        return list(rows)
    return [rows[i * len(rows) // cap] for i in range(cap)]


def mix_records(out_dir: str | Path, split: str = "train", seed: int = 42) -> list[dict[str, Any]]:
    """All records of one split of a built MNLU-Instruct directory, shuffled with the seed (the training mix).

    Files are read in sorted path order before shuffling, so the mix depends only on the data and the seed.
    """
    files = sorted(Path(out_dir, split).glob("*/*.jsonl"))
    records = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines() if line]
    rng = random.Random(int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:8], "big"))
    rng.shuffle(records)
    return records

