"""Finding a corpus's files: links followed, sorted, junk skipped; a missing corpus says what it needs."""

from __future__ import annotations

from mnlu.corpora.availability import CorpusUnavailable, find_dirs, find_files


def test_find_files_follows_links_and_skips_junk(tmp_path):
    download = tmp_path / "download" / "STS-B"
    download.mkdir(parents=True)
    for name in ("train.tsv", "dev.tsv", "._train.tsv", ".hidden.tsv", "README.txt"):
        (download / name).write_text("x")
    corpus = tmp_path / "stsb"
    (corpus / "__MACOSX").mkdir(parents=True)
    (corpus / "__MACOSX" / "test.tsv").write_text("x")
    (corpus / "STS-B").symlink_to(download, target_is_directory=True)
    assert find_files(corpus, "*.tsv") == [corpus / "STS-B" / "dev.tsv", corpus / "STS-B" / "train.tsv"]
    assert find_dirs(corpus, "STS-B") == [corpus / "STS-B"]
    assert find_files(tmp_path / "absent") == []


def test_corpus_unavailable_names_the_folder_and_survives_worker_processes(tmp_path):
    error = CorpusUnavailable(tmp_path, "no train.tsv here")
    assert str(error) == f"{tmp_path}: no train.tsv here"
    # the build's worker processes send it back to the parent, rebuilt from __reduce__
    cls, args = error.__reduce__()
    copy = cls(*args)
    assert (type(copy), copy.path, copy.reason) == (CorpusUnavailable, str(tmp_path), "no train.tsv here")
