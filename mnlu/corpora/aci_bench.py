"""ACI-Bench (Yim et al. 2023): `data/challenge_data/{train,valid,clinicalnlp_taskB_test1,
clinicalnlp_taskC_test2,clef_taskC_test3}.csv` with `dataset, encounter_id, dialogue, note` (multi-line quoted
fields), or the JSON mirror `data/challenge_data_json/*.json` (`{"data": [{"src", "tgt", "file"}]}`) when the
CSVs are absent. The dialogue (one `[doctor]`/`[patient]` turn per line) is the source and the note the summary;
long dialogues are cut by whole turns to fit the token budget. `*_metadata.csv` files are not needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mnlu.corpora.availability import CorpusUnavailable, find_files
from mnlu.corpora.item_helpers import fit_to_budget
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.tabular import read_delimited, read_records
from mnlu.prompts import summarization
from mnlu.splits import split_of_name

INSTRUCTION = "Write the clinical note for this doctor-patient visit conversation."


def _item(path: Path, line: int, split: str, key: str, dialogue: object, note: object, ctx: ConvertContext):
    if not isinstance(dialogue, str) or not isinstance(note, str) or not dialogue.strip() or not note.strip():
        ctx.bad(FormatError(path, "empty or missing dialogue/note", line=line))
        return None
    turns = [t for t in dialogue.strip().splitlines() if t.strip()]
    pid = f"aci_bench-{path.stem}-{key}"

    def build(k: int) -> dict:
        return summarization(pid, "\n".join(turns[:k]), note.strip(), type_="clinical note", instruction=INSTRUCTION)

    return TaskItem(split, "summarization", fit_to_budget(build, len(turns), ctx))


@register("aci_bench", "ACI-Bench (ambient clinical intelligence)", ("summarization",), "P")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    csvs = sorted(p for p in find_files(root, "*.csv") if p.parent.name == "challenge_data" and not p.stem.endswith("_metadata")
    )
    jsons = sorted(p for p in find_files(root, "*.json") if p.parent.name == "challenge_data_json")
    if not csvs and not jsons:
        raise CorpusUnavailable(root, "no data/challenge_data/*.csv (or challenge_data_json/*.json) files here")
    for path in csvs or jsons:
        split = split_of_name(path.stem)
        if split is None:
            continue  # a per-section or experiment variant, not one of the five challenge splits
        if csvs:
            rows = read_delimited(path, required=("encounter_id", "dialogue", "note"), on_bad=ctx.bad)
            for line, row in rows:
                item = _item(path, line, split, row["encounter_id"], row["dialogue"], row["note"], ctx)
                if item is not None:
                    yield item
        else:
            for line, row in read_records(path, on_bad=ctx.bad):
                if not isinstance(row, dict):
                    ctx.bad(FormatError(path, "expected an object with 'src', 'tgt', 'file'", line=line))
                    continue
                key = str(row.get("file", line))
                item = _item(path, line, split, key, row.get("src"), row.get("tgt"), ctx)
                if item is not None:
                    yield item
