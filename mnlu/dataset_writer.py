"""Writes one (split, family, corpus) group: a JSONL file and a `datasets` directory with the same records.

Same records → same bytes: JSONL lines are serialised once and reused, and the `datasets` fingerprint (which
`save_to_disk` stores in state.json and would otherwise be random) is the SHA-256 of the JSONL bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

ROWS_PER_BATCH = 10_000


def arrow_schema():
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([
        ("prompt_id", pa.string()),
        ("messages", pa.list_(message)),
        ("task", pa.string()),
        ("type", pa.string()),
        ("options", pa.string()),
    ])


def write_group(lines: Sequence[str], jsonl_path: Path, dataset_dir: Path) -> None:
    """`lines` are the records as compact JSON (no newline); the caller's staging folder makes this atomic.
    An empty group is not written (a `datasets` directory with no shard cannot be loaded back)."""
    if not lines:
        raise ValueError(f"{jsonl_path}: refusing to write an empty group")
    import datasets
    import pyarrow as pa

    jsonl_path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    jsonl_path.write_bytes(data)
    schema = arrow_schema()
    batches = [
        pa.Table.from_pylist([json.loads(x) for x in lines[i : i + ROWS_PER_BATCH]], schema=schema)
        for i in range(0, len(lines), ROWS_PER_BATCH)
    ]
    table = pa.concat_tables(batches)
    dataset = datasets.Dataset(table, fingerprint=hashlib.sha256(data).hexdigest())
    datasets.disable_progress_bars()
    dataset.save_to_disk(str(dataset_dir))
