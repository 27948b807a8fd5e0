"""The ten clinical converters are registered under their folder names and say what is missing when the
credentialed files are absent (they cannot be redistributed)."""

from __future__ import annotations

import pytest

import mnlu.corpora  # noqa: F401
from mnlu.corpora.availability import CorpusUnavailable
from mnlu.corpora.registry import CORPORA, ConvertContext

CLINICAL = {
    "i2b2_2006_deid": ("events",), "i2b2_2011_coref": ("events", "RE"), "i2b2_2012_temporal": ("events", "RE"),
    "i2b2_2014_deid": ("events",), "i2b2_2009_medication": ("events",), "n2c2_2018_ade": ("events",),
    "n2c2_2022_sdoh": ("events",), "i2b2_2006_smoking": ("DC",), "i2b2_2008_obesity": ("DC",),
    "n2c2_2018_cohort": ("DC",),
}


@pytest.mark.parametrize("name", sorted(CLINICAL))
def test_registered_and_unavailable_without_files(name, tmp_path):
    corpus = CORPORA[name]
    assert corpus.families == CLINICAL[name] and corpus.access == "C"
    with pytest.raises(CorpusUnavailable, match="n2c2 portal"):
        list(corpus.convert(tmp_path, ConvertContext()))
