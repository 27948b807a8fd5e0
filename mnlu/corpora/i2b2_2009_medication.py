"""i2b2 2009 medication (FORMATS.md §16): each entry line is a medication event with its dosage, mode,
frequency, duration and reason → trigger and argument extraction items over windows of each note.

Which notes are gold: train = the ids of `training.sets.released.tar.gz` that have an organiser-annotated
`<id>_*.entries` file; test = the released notes with a `converted.noduplicates.sorted` `<id>.m` file. Notes
without gold are left out (a note with no gold would teach "None" for medications it does mention).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mnlu.corpora._clinical import Argument, Doc, EventAnn, EventSchema, event_items, progress
from mnlu.corpora.item_helpers import Mention
from mnlu.corpora.registry import ConvertContext, TaskItem, register
from mnlu.formats.errors import FormatError
from mnlu.formats.i2b2_archive import decode_text, iter_members
from mnlu.formats.i2b2_concepts import MedicationEntry, TokenGrid, read_medication_entries, resolve
from mnlu.prompts import SpanType

log = logging.getLogger(__name__)

CORPUS = "i2b2_2009_medication"
NOTES = "train.test.released.8.17.09.tar.gz"
TRAIN_IDS = "training.sets.released.tar.gz"
TRAIN_GOLD = "training.ground.truth.01.06.11.2009.zip"
TEST_GOLD = "annotations_ground_truth.tar.gz"
TEST_GOLD_MARK = "converted.noduplicates.sorted"

TRIGGER = "Medication"
ARGUMENTS = {  # entry field → argument type
    "do": SpanType("Dosage", "amount of one dose"),
    "mo": SpanType("Mode", "route of administration"),
    "f": SpanType("Frequency", "how often it is taken"),
    "du": SpanType("Duration", "how long it is taken"),
    "r": SpanType("Reason", "the condition it is given for"),
}
SCHEMA = EventSchema(
    triggers=(SpanType(TRIGGER, "names of medications, including brand and generic names"),),
    arguments={TRIGGER: tuple(ARGUMENTS.values())},
)
_SET_DIR = re.compile(r"^(?:[1-9]|10)$")


def _note_id(name: str) -> str:
    return PurePosixPath(name).name


@register(CORPUS, "i2b2 2009 Medication", ("events",), "C")
def convert(root: Path, ctx: ConvertContext) -> Iterator[TaskItem]:
    root = Path(root)
    if not (root / NOTES).is_file():
        from mnlu.corpora.availability import CorpusUnavailable

        raise CorpusUnavailable(root, f"{CORPUS}: {NOTES} (the note texts) is missing; download it, "
                                      f"{TRAIN_IDS}, {TRAIN_GOLD} and {TEST_GOLD} from the n2c2 portal")
    notes = {_note_id(m.name): (m.where, m.data) for m in iter_members(root / NOTES)}
    train_ids: set[str] = set()
    if (root / TRAIN_IDS).is_file():
        train_ids = {_note_id(m.name) for m in iter_members(root / TRAIN_IDS) if not _SET_DIR.match(_note_id(m.name))}
    gold: dict[str, dict[str, tuple[str, bytes]]] = {"train": {}, "test": {}}
    if (root / TRAIN_GOLD).is_file():
        for m in iter_members(root / TRAIN_GOLD):
            if m.basename.endswith(".entries"):
                gold["train"][m.basename.split("_")[0].split(".")[0]] = (m.where, m.data)
    if (root / TEST_GOLD).is_file():
        for m in iter_members(root / TEST_GOLD):
            if TEST_GOLD_MARK in m.name and m.basename.endswith(".m"):
                gold["test"][m.basename[:-2]] = (m.where, m.data)
    for name in (TRAIN_IDS, TRAIN_GOLD, TEST_GOLD):
        if not (root / name).is_file():
            log.warning("%s: %s: %s is missing; the split it defines is incomplete", root, CORPUS, name)
    for split, entries in gold.items():
        for note_id in progress(sorted(entries), CORPUS, split):
            where, data = entries[note_id]
            if note_id not in notes:
                ctx.bad(FormatError(where, f"gold entries for note {note_id}, which {NOTES} does not hold"))
                continue
            if split == "test" and note_id in train_ids:
                ctx.bad(FormatError(where, f"note {note_id} has test gold but is a training note"))
                continue
            yield from _note(split, note_id, notes[note_id], (where, data), ctx)


def _note(split: str, note_id: str, note: tuple[str, bytes], gold: tuple[str, bytes], ctx: ConvertContext
          ) -> Iterator[TaskItem]:
    text = decode_text(note[1], note[0])
    grid = TokenGrid(text)
    where = gold[0]
    events: dict[tuple[int, int], dict[tuple[int, int, str], Argument]] = {}
    for entry in read_medication_entries(decode_text(gold[1], where), where, report=ctx.bad):
        try:
            trigger, args = _resolve_entry(entry, grid, where)
        except FormatError as err:
            ctx.bad(err)
            continue
        slot = events.setdefault((trigger.start, trigger.end), {})
        for a in args:
            slot[(a.mention.start, a.mention.end, a.mention.label)] = a
    anns = [EventAnn(Mention(s, e, TRIGGER), tuple(sorted(args.values(), key=lambda a: (a.mention.start,
                                                                                       a.mention.label))))
            for (s, e), args in sorted(events.items())]
    yield from event_items(Doc(CORPUS, split, note_id, note[0]), text, anns, SCHEMA, ctx)


def _resolve_entry(entry: MedicationEntry, grid: TokenGrid, where: str) -> tuple[Mention, list[Argument]]:
    med = entry.fields["m"]
    if len(med.positions) != 1:
        raise FormatError(where, f"the medication has {len(med.positions)} position pairs; expected one",
                          line=entry.line)
    (b, e), = med.positions
    s, t = resolve(grid, b, e, med.text, where=where, line=entry.line, what="m (medication)", strip_period=True)
    args = []
    for key, span_type in ARGUMENTS.items():
        value = entry.fields.get(key)
        if value is None or not value.mentioned:
            continue
        for (b, e), fragment in zip(value.positions, value.fragments, strict=True):
            fs, fe = resolve(grid, b, e, fragment, where=where,
                             line=entry.line, what=f"{key} ({span_type.name})", strip_period=True)
            args.append(Argument(Mention(fs, fe, span_type.name)))
    return Mention(s, t, TRIGGER), args
