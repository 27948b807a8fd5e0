"""One converter per corpus, registered by name (the corpus's folder name in shared/data/mnlu)."""

from mnlu.corpora.registry import CORPORA, Corpus, TaskItem, get_corpus, register

__all__ = ["CORPORA", "Corpus", "TaskItem", "get_corpus", "register"]
