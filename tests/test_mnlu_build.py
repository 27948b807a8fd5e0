"""`mnlu data build`: every registered corpus with a sample builds, the mixture, dedup, absent corpora,
--require-all, --strict, atomic output and byte-identical rebuilds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mnlu.corpora  # noqa: F401
from mnlu.cli_data import main
from mnlu.corpora.registry import CORPORA
from mnlu.mixture import ConfigError, load_mixture, mix_records, paper_mixture, parse_mixture, take_fraction
from mnlu.schema import validate_record

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "mnlu"


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def jsonl_records(out: Path) -> dict[tuple[str, str, str], list[dict]]:
    found = {}
    for path in sorted(out.glob("*/*/*.jsonl")):
        split, family, corpus = path.parent.parent.name, path.parent.name, path.stem
        found[(split, family, corpus)] = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return found


@pytest.fixture(scope="module")
def shared_build(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("build") / "mnlu_instruct"
    code = main(["build", "--raw", str(shared_data / "mnlu"), "--out", str(out), "--no-progress"])
    assert code == 0
    return out


def test_build_on_the_real_samples(shared_build, shared_data):
    out = shared_build
    stats = json.loads((out / "stats.json").read_text())
    status = {c["name"]: c for c in stats["corpora"]}
    records = jsonl_records(out)
    with_items = {corpus for (_, _, corpus) in records}
    for name in CORPORA:  # every registered corpus whose folder exists
        if not (shared_data / "mnlu" / name).is_dir():
            assert status[name]["status"] == "absent", name
            continue
        if status[name]["status"] == "unavailable":  # CDSR: split files only, no text
            assert status[name]["reason"], name
            continue
        assert status[name]["status"] == "built" and name in with_items, name
    assert status["cdsr"]["status"] == "unavailable" and "citation-export" in status["cdsr"]["reason"]
    for (split, family, corpus), rows in records.items():
        for row in rows:
            validate_record(row, require_answer=True)
        # the datasets directory holds the same records
        import datasets

        ds = datasets.load_from_disk(str(out / split / family / corpus))
        assert ds.to_list() == rows
        group = next(g for g in stats["groups"] if (g["split"], g["family"], g["corpus"]) == (split, family, corpus))
        assert group["instances"] == len(rows) and group["total_tokens"]["max"] > 0
    assert len(records[("train", "STS", "stsb")]) == 199  # 200 rows, one exact duplicate pair
    assert status["stsb"]["duplicates"] == 1
    # the SNLI sample is the dev file (99 labelled pairs): dev goes to train, where the paper's 0.03 keeps int(2.97)
    assert len(records[("train", "NLI", "snli")]) == 2 and ("test", "NLI", "snli") not in records
    assert status["snli"]["dropped_by_fraction"] == 97
    md = (out / "stats.md").read_text()
    assert "| train | STS | stsb | 199 |" in md and "## Not built" in md and "- cdsr: unavailable" in md
    bad = [json.loads(x) for x in (out / "bad_records.jsonl").read_text().splitlines()]
    assert sum(b["corpus"] == "semeval2024_task2_nli4ct" for b in bad) == 19
    assert all(b["path"].startswith("semeval2024_task2_nli4ct/") for b in bad if b["corpus"].startswith("semeval"))
    assert status["semeval2024_task2_nli4ct"]["bad_records"] == 19


@pytest.fixture()
def fixture_raw(tmp_path) -> Path:
    raw = tmp_path / "raw"
    for name in ("multinli", "bionli", "trialstop", "clinical_ie"):
        shutil.copytree(FIXTURES / name, raw / name)
    return raw


def test_fractions_dedup_and_absent_corpora(fixture_raw, tmp_path, capsys):
    config = tmp_path / "mix.yaml"
    config.write_text("corpora:\n  multinli: {fraction: 0.5}\n  bionli: {fraction: 0.5}\n  snli: {fraction: 0.03}\n")
    out = tmp_path / "out"
    assert main(["build", "--config", str(config), "--raw", str(fixture_raw), "--out", str(out), "--no-progress"]) == 0
    summary = capsys.readouterr().out
    # absent corpora are one line (the fixture raw holds 4 of the 33 folders); --verbose names each
    assert f"not built: 29 corpora with no folder under {fixture_raw} (listed in stats.md" in summary
    assert "snli" not in summary and len(summary.splitlines()) <= 12
    # one bad line in each of the bionli, multinli and trialstop fixtures (see their converter tests)
    assert "4 corpora built; 3 bad records skipped (bionli 1, multinli 1, trialstop 1): " \
        f"{out / 'bad_records.jsonl'}" in summary and "train (all)" in summary
    records = jsonl_records(out)
    # multinli train: 4 train-file items, one exact duplicate → 3, then the 2 dev items (dev goes to train) → 5;
    # fraction 0.5 → the first int(2.5) = 2, which come from the train file
    assert [r["prompt_id"] for r in records[("train", "NLI", "multinli")]] == ["multinli-900001e", "multinli-900002n"]
    stats = {c["name"]: c for c in json.loads((out / "stats.json").read_text())["corpora"]}
    assert stats["multinli"]["duplicates"] == 1 and stats["multinli"]["dropped_by_fraction"] == 3
    assert stats["snli"]["status"] == "absent"
    # bionli: train 4 → int(2.0) = 2; its test split (2 items) is never cut
    assert len(records[("train", "NLI", "bionli")]) == 2 and stats["bionli"]["dropped_by_fraction"] == 2
    assert len(records[("test", "NLI", "bionli")]) == 2
    assert "- snli: absent" in (out / "stats.md").read_text()
    # registered corpora that the config omits are still built with fraction 1.0
    assert ("train", "DC", "trialstop") in records and stats["trialstop"]["fractions"] == {}


def test_summary_names_absent_corpora_only_when_verbose(tmp_path):
    from mnlu.build import ABSENT, BUILT, UNAVAILABLE, BuildResult, CorpusReport, GroupStats
    from mnlu.build_stats import summary_text

    built = CorpusReport("stsb", BUILT, groups=[GroupStats("train", "STS", "stsb", 5)])
    absent = [CorpusReport(n, ABSENT, reason=f"no folder {tmp_path / n}") for n in ("snli", "genia")]
    unavailable = CorpusReport("cdsr", UNAVAILABLE, reason="cdsr: export citation-export.txt")
    result = BuildResult(tmp_path / "out", [built, *absent, unavailable], "tok")
    short = summary_text(result, tmp_path).splitlines()
    assert "  train STS                  5 instances from 1 corpus" in short
    assert "  not built: cdsr: unavailable (export citation-export.txt)" in short  # actionable: always named
    assert f"  not built: 2 corpora with no folder under {tmp_path} (listed in stats.md; --verbose lists them here)" \
        in short and not any("snli" in line for line in short)
    long = summary_text(result, tmp_path, verbose=True).splitlines()
    assert f"  not built: snli: absent (no folder {tmp_path / 'snli'})" in long and len(long) == len(short) + 1


def test_require_all_fails_on_an_absent_corpus(fixture_raw, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["build", "--raw", str(fixture_raw), "--out", str(out), "--corpora", "multinli,snli",
                 "--require-all", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and "snli absent" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_strict_bad_offset_is_one_line_naming_file_and_offset(tmp_path, capsys):
    out = tmp_path / "out"
    raw = FIXTURES / "bad_offset"
    code = main(["build", "--raw", str(raw), "--out", str(out), "--corpora", "clinical_ie", "--strict",
                 "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "clinical_ie/medication_attr/test.csv:3: offset 40:" in err
    assert not out.exists() and not list(tmp_path.glob(".out.tmp-*"))
    # without --strict the record is skipped and counted
    assert main(["build", "--raw", str(raw), "--out", str(out), "--corpora", "clinical_ie", "--no-progress"]) == 0
    (bad,) = [json.loads(x) for x in (out / "bad_records.jsonl").read_text().splitlines()]
    assert bad == {"corpus": "clinical_ie", "path": "clinical_ie/medication_attr/test.csv", "line": 3,
                   "offset": 40, "reason": "span [40, 45) outside the snippet (length 14)", "kind": "OffsetMismatch"}


def test_rebuild_is_byte_identical_and_workers_agree(fixture_raw, tmp_path):
    args = ["build", "--raw", str(fixture_raw), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--workers", "2"]) == 0
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a == b and any(k.endswith(".arrow") for k in a)
    # a non-empty output is never replaced silently; --overwrite replaces it atomically
    assert main([*args, "--out", str(tmp_path / "a")]) == 1
    assert main([*args, "--out", str(tmp_path / "a"), "--overwrite", "--seed", "7"]) == 0
    assert tree(tmp_path / "a") != b and not list(tmp_path.glob(".a.*"))


def test_mixture_config():
    assert load_mixture(REPO / "configs" / "mnlu.yaml").corpora == paper_mixture().corpora
    paper = paper_mixture()
    assert len(paper.corpora) == 33
    assert paper.spec("snli").fraction("NLI") == 0.03 and paper.spec("multinli").fraction("NLI") == 0.03
    assert paper.spec("i2b2_2011_coref").fraction("RE") == 0.24
    assert paper.spec("i2b2_2011_coref").fraction("events") == 1.0
    mixer = parse_mixture({"dataset_mixer": {"/dataset/final/train/RE/2011coreference": 0.24,
                                             "/dataset/final/train/NLI/snli": 0.03}})
    assert mixer.spec("i2b2_2011_coref").fraction("RE") == 0.24 and mixer.spec("snli").fraction("NLI") == 0.03
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['fractions'\]; valid keys are \['fraction', 'path'\]"):
        parse_mixture({"corpora": {"snli": {"fractions": 0.1}}})
    with pytest.raises(ConfigError, match="valid keys are"):
        parse_mixture({"sed": 1})
    with pytest.raises(ConfigError, match="in \\[0, 1\\]"):
        parse_mixture({"corpora": {"snli": {"fraction": 3}}})
    assert take_fraction(list(range(10)), 0.24) == [0, 1]
    assert take_fraction(list(range(10)), 1.0) == list(range(10))


def test_path_override_and_mix(fixture_raw, tmp_path):
    moved = tmp_path / "elsewhere" / "nli_files"
    shutil.move(str(fixture_raw / "multinli"), moved)
    config = tmp_path / "mix.yaml"
    config.write_text(f"corpora:\n  multinli: {{path: {moved}}}\n")
    out = tmp_path / "out"
    assert main(["build", "--config", str(config), "--raw", str(fixture_raw), "--out", str(out),
                 "--corpora", "multinli", "--no-progress"]) == 0
    assert len(jsonl_records(out)[("train", "NLI", "multinli")]) == 5  # 3 unique train-file items + 2 dev items
    mixed = mix_records(out, "train", seed=42)
    assert sorted(r["prompt_id"] for r in mixed) == ["multinli-900001e", "multinli-900002n", "multinli-900003c",
                                                     "multinli-900101c", "multinli-900201e"]
    assert mixed == mix_records(out, "train", seed=42)
