"""One converter per corpus, registered by name (the corpus's folder name in shared/data/mnlu)."""

from mnlu.corpora.registry import CORPORA, Corpus, TaskItem, get_corpus, register

__all__ = ["CORPORA", "Corpus", "TaskItem", "get_corpus", "register"]

# clinical i2b2/n2c2 corpora
from mnlu.corpora import i2b2_2006_deid, i2b2_2006_smoking  # noqa: E402,F401
