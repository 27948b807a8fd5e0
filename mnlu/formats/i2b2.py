"""Readers for the i2b2/n2c2 clinical formats, gathered in one place (the modules hold the details).

- `i2b2_xml`: inline-tagged records (2006 de-id, smoking), standoff XML (2012 temporal, 2014 de-id, 2018 cohort),
  2008 obesity records and judgments.
- `i2b2_concepts`: line:token concept, chain and medication-entry files (2011 coreference, 2009 medication).
- `i2b2_archive`: members of the distributed zips and tarballs, read in place.
"""

from mnlu.formats.i2b2_archive import Member, decode_text, find_archive, iter_members
from mnlu.formats.i2b2_concepts import (
    Chain,
    Concept,
    FieldValue,
    MedicationEntry,
    Mention,
    TokenGrid,
    TokenPos,
    read_chains,
    read_concepts,
    read_medication_entries,
    resolve,
)
from mnlu.formats.i2b2_xml import (
    InlineRecord,
    InlineSpan,
    Judgment,
    StandoffXml,
    XmlTag,
    check_span,
    iter_inline_records,
    read_obesity_judgments,
    read_obesity_records,
    read_standoff_xml,
)

__all__ = [
    "Chain", "Concept", "FieldValue", "InlineRecord", "InlineSpan", "Judgment", "MedicationEntry", "Member",
    "Mention", "StandoffXml", "TokenGrid", "TokenPos", "XmlTag", "check_span", "decode_text", "find_archive",
    "iter_inline_records", "iter_members", "read_chains", "read_concepts", "read_medication_entries",
    "read_obesity_judgments", "read_obesity_records", "read_standoff_xml", "resolve",
]
