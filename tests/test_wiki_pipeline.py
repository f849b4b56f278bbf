"""The Wikipedia pipeline (data/wiki/*.bash) on the real sample dump."""

import bz2
import re
import subprocess
import sys
import unicodedata

import pytest
from conftest import REPO, TEST_LINES, VALID_LINES, run


def read_lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_splits_are_the_authors_layout(bert_text):
    all_lines = read_lines(bert_text / "en.all.raw")
    train, valid, test = (read_lines(bert_text / f"en.{s}.raw") for s in ("train", "valid", "test"))
    assert len(valid) == VALID_LINES and len(test) == TEST_LINES
    assert len(train) > 5000  # the sample has about 7,000 lines of article text
    # train, then valid, then test: the last lines are held out, in order
    assert train + valid + test == all_lines


def test_text_is_clean_moses_tokenised_and_accent_free(bert_text):
    text = (bert_text / "en.all.raw").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert all(line.strip() for line in lines), "blank lines must be dropped"
    assert not any(line.startswith("<doc") or line.endswith("</doc>") for line in lines)
    # Moses splits punctuation off words and does not escape apostrophes
    assert " , " in text and " . " in text
    assert "&apos;" not in text
    assert not any(unicodedata.category(ch) == "Mn" for ch in unicodedata.normalize("NFD", text))
    # the first article of the dump is Anarchism
    assert lines[0] == "Anarchism"
    assert lines[1].startswith("Anarchism is a political philosophy")


def test_untokenized_variant_keeps_punctuation_attached(bert_text, roberta_text):
    moses = read_lines(bert_text / "en.all.raw")
    plain = read_lines(roberta_text / "en.all.raw")
    assert len(moses) == len(plain)
    assert plain[1].startswith("Anarchism is a political philosophy that advocates self-governed societies")
    assert "institutions." in plain[1] and "institutions ." in moses[1]


def test_finished_folder_is_reused(bert_text, sample_dump):
    env = {"WIKI_OUT_DIR": str(bert_text), "VALID_LINES": str(VALID_LINES), "TEST_LINES": str(TEST_LINES)}
    result = run(["bash", "data/wiki/get_data_cased.bash", "en", str(sample_dump)], env=env)
    assert "already prepared" in result.stdout


def test_folder_from_another_dump_is_refused(bert_text, sample_dump):
    env = {"WIKI_OUT_DIR": str(bert_text), "VALID_LINES": "7", "TEST_LINES": str(TEST_LINES)}
    result = run(["bash", "data/wiki/get_data_cased.bash", "en", str(sample_dump)], env=env, check=False)
    assert result.returncode != 0
    assert "holds data prepared from" in result.stderr


def _bad_dump(tmp_path, kind):
    path = tmp_path / "dump.xml.bz2"
    if kind == "missing":
        return path, "does not exist"
    if kind == "empty":
        path.write_bytes(b"")
        return path, "is empty"
    if kind == "not_bz2":
        path.write_text("<mediawiki> plain text, not compressed </mediawiki>")
        return path, "not a bzip2 file"
    if kind == "bz2_not_xml":
        path.write_bytes(bz2.compress(b"just some words, not a wikipedia dump\n" * 100))
        return path, "not a MediaWiki XML dump"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["missing", "empty", "not_bz2", "bz2_not_xml"])
def test_bad_dump_is_refused_and_writes_nothing(tmp_path, kind):
    dump, message = _bad_dump(tmp_path, kind)
    out = tmp_path / "out"
    result = run(["bash", "data/wiki/get_data_cased.bash", "en", str(dump)], env={"WIKI_OUT_DIR": str(out)},
                 check=False)
    assert result.returncode != 0
    assert message in result.stderr and str(dump) in result.stderr
    assert not out.exists() and not (tmp_path / "out.partial").exists()


def test_too_small_a_dump_for_the_split_is_refused(tmp_path, sample_dump):
    out = tmp_path / "out"
    env = {"WIKI_OUT_DIR": str(out), "VALID_LINES": "5000", "TEST_LINES": "5000"}
    result = run(["bash", "data/wiki/get_data_cased_untokenized.bash", "en", str(sample_dump)], env=env, check=False)
    assert result.returncode != 0
    assert re.search(r"has \d+ lines, not more than valid \+ test = 10000", result.stderr)
    assert not out.exists() and not (tmp_path / "out.partial").exists()


def test_missing_language_is_refused():
    result = run(["bash", "data/wiki/get_data_cased.bash"], check=False)
    assert result.returncode != 0 and "no language given" in result.stderr


def test_clean_text_strips_accents_doc_tags_and_blank_lines():
    raw = '<doc id="1" url="u" title="Cafe">\nCafé\n\nA naïve résumé, in Zürich.\n</doc>\n'
    result = subprocess.run(
        [sys.executable, str(REPO / "data/wiki/clean_text.py"), "--moses", "--processes", "1"],
        input=raw, capture_output=True, text=True, check=True,
    )
    assert result.stdout.splitlines() == ["Cafe", "A naive resume , in Zurich ."]
