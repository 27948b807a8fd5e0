"""The demo's benchmarks stay unseen (issue 12): no evaluation set the demo uses (eval/demo_data, and the shared
real subsets where ../shared/data/eval exists, with the config's limits) shares a document or a sentence with the
training corpora the demo builds (mnlu/demo_data, and ../shared/data/mnlu where it exists), compared by hashes of
normalised content. Long word n-grams are compared too, so an entity-masked RE sentence (`@GENE$`) cannot hide a
copy of its unmasked training sentence."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import load_pipeline_config

REPO = Path(__file__).resolve().parents[2]
DEMO = load_pipeline_config(REPO / "configs" / "demo.yaml")
MARKER = re.compile(r"@[A-Z][A-Z-]*\$")
NGRAM = 12  # words; template phrases never reach the eval side (only each record's own text is taken)
CONTENT = re.compile(r"^(?:Medical text|Sentence [12]|Question): (.*)$", re.M)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", MARKER.sub(" \x00 ", text).lower().replace("\x00", "@"))


def _hash(words: list[str]) -> str:
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


def _sentences(text: str) -> list[list[str]]:
    return [w for s in re.split(r"(?<=[.!?])\s+", text) if len(w := _words(s)) >= 5]


def _ngrams(words: list[str]) -> set[str]:
    return {_hash(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1) if "@" not in words[i:i + NGRAM]}


def _training_texts(tmp: Path) -> list[str]:
    """The user turn of every train item the demo's data stage builds (each source built as the pipeline does)."""
    sources = {"main": REPO / "mnlu" / "demo_data"} if DEMO.data.raw == "demo" else {"main": Path(DEMO.data.raw)}
    sources.update({k: (REPO / v).resolve() for k, v in DEMO.data.extra.items() if (REPO / v).is_dir()})
    texts = []
    for name, raw in sources.items():
        args = ["data", "build", "--raw", str(raw), "--out", str(tmp / name), "--no-progress"]
        if DEMO.data.max_seq_length:
            args += ["--max-seq-length", str(DEMO.data.max_seq_length)]
        done = subprocess.run([sys.executable, "-m", "mnlu.cli", *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        files = sorted((tmp / name / "train").rglob("*.jsonl"))
        assert files, f"{name}: no train items built"
        for f in files:
            texts += [json.loads(line)["messages"][1]["content"] for line in f.read_text().splitlines()]
    return texts


def _eval_texts() -> dict[str, list[str]]:
    """prompt_id → the record's own text (medical text, sentence pair, question) for every demo evaluation set."""
    from eval.benchmarks import resolve

    out = {}
    for group in (DEMO.eval.demo, DEMO.eval.shared):
        if group is None:
            continue
        folder = REPO / "eval" / "demo_data" if group.data_dir == "demo" else (REPO / group.data_dir).resolve()
        if not folder.is_dir():
            continue
        for d in resolve(group.benchmarks):
            if d.credentialed and not d.path(folder, "test").exists():
                continue
            for it in d.items(folder, group.split or "test", group.limit):
                parts = CONTENT.findall(it.record["messages"][1]["content"])
                assert parts, f"{it.prompt_id}: no medical text / sentence / question line in the prompt"
                out[it.prompt_id] = parts
    return out


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    texts = _training_texts(tmp_path_factory.mktemp("demo_train"))
    docs, sents, grams = set(), set(), set()
    for t in texts:
        words = _words(t)
        docs.add(_hash(words))
        sents.update(_hash(s) for s in _sentences(t))
        grams.update(_ngrams(words))
    return texts, (docs, sents, grams)


def _overlaps(parts: list[str], index) -> list[str]:
    docs, sents, grams = index
    found = []
    for part in parts:
        words = _words(part)
        if _hash(words) in docs:
            found.append("document")
        found += ["sentence" for s in _sentences(part) if _hash(s) in sents]
        if _ngrams(words) & grams:
            found.append(f"{NGRAM}-gram")
    return found


def test_no_demo_evaluation_record_shares_a_document_or_sentence_with_the_training_corpora(training):
    _, index = training
    records = _eval_texts()
    assert any(k.startswith("bc5chem") for k in records) and len(records) >= 100
    seen = [(pid, kinds, parts[0][:80]) for pid, parts in records.items() if (kinds := _overlaps(parts, index))]
    assert seen == [], f"{len(seen)} evaluation records overlap the training corpora, e.g. {seen[:5]}"


def test_the_check_flags_a_training_sentence_copied_into_an_evaluation_record(training):
    """A training sentence, entity-masked as BLURB's RE sets are, inside an otherwise new text is found, and a new
    sentence is not: the check can fail."""
    texts, index = training
    sentence = next(s for t in texts for s in re.split(r"(?<=[.!?])\s+", CONTENT.findall(t)[-1] if
                    CONTENT.findall(t) else "") if len(s.split()) >= 2 * NGRAM)
    first, rest = sentence.split(" ", 1)
    masked = f"We report a new cohort of patients. @GENE$ {rest}"
    assert _overlaps([masked], index)
    assert not _overlaps(["We report a new cohort of forty patients treated with valtorazine for nausea in 2026."],
                         index)
