"""One converter per corpus, registered by name (the corpus's folder name in shared/data/mnlu)."""

from mnlu.corpora.registry import CORPORA, Corpus, TaskItem, get_corpus, register

__all__ = ["CORPORA", "Corpus", "TaskItem", "get_corpus", "register"]

# clinical i2b2/n2c2 corpora
from mnlu.corpora import (  # noqa: E402,F401
    i2b2_2006_deid,
    i2b2_2006_smoking,
    i2b2_2008_obesity,
    i2b2_2009_medication,
    i2b2_2011_coref,
    i2b2_2012_temporal,
    i2b2_2014_deid,
    n2c2_2018_ade,
    n2c2_2018_cohort,
    n2c2_2022_sdoh,
)

# tabular corpora
# isort: split
from mnlu.corpora import (  # noqa: E402,F401
    aci_bench,
    bionli,
    cdsr,
    clinical_ie,
    czi_drsm,
    mtsamples,
    multinli,
    pubmedsum,
    semeval2024_task2_nli4ct,
    snli,
    stsb,
    trialstop,
)

# public NER/RE corpora
# isort: split
from mnlu.corpora import (  # noqa: E402,F401
    bc4chemd,
    biored,
    drugprot,
    euadr,
    genia,
    gnormplus,
    linnaeus,
    nlm_gene,
    pico_data_nguyen2017,
    pubmed_pico,
    tmvar,
)
