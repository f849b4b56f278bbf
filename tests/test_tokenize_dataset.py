"""Tokenisation to <file>.<tok>, .hdf5, .line (and .sent) on the real sample."""

import json
import shutil

import h5py
import numpy as np
import pytest
from conftest import run

from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
from tokenization.tokenize_dataset import keep_line, tokenize_file


def outputs(text_dir, split, tokenizer_dir):
    base = text_dir / f"en.{split}.raw.{tokenizer_tag(str(tokenizer_dir))}"
    with h5py.File(f"{base}.hdf5", "r") as h5:
        tokens = h5["tokens"][:]
    offsets = np.loadtxt(f"{base}.line", dtype=np.int64)
    id_lines = base.read_text().splitlines()
    return tokens, offsets, id_lines


def fresh_ids(tokenizer, text_file):
    lines = [line for line in text_file.read_text(encoding="utf-8").splitlines() if keep_line(line)]
    return [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line)) for line in lines]


@pytest.mark.parametrize("family", ["bert", "roberta"])
@pytest.mark.parametrize("split", ["valid", "train"])
def test_hdf5_equals_a_fresh_tokenisation_of_every_kept_line(family, split, request):
    text_dir = request.getfixturevalue(f"{family}_tokenized")
    tokenizer_dir = request.getfixturevalue(f"{family}_tokenizer_dir")
    tokenizer = load_tokenizer(str(tokenizer_dir))
    tokens, offsets, id_lines = outputs(text_dir, split, tokenizer_dir)
    expected = fresh_ids(tokenizer, text_dir / f"en.{split}.raw")
    assert tokens.dtype == np.int32
    assert np.array_equal(tokens, np.concatenate(expected))
    # .line: the start of every kept line, then the total
    assert len(offsets) == len(expected) + 1
    for i in range(0, len(expected), 97):
        assert tokens[offsets[i] : offsets[i + 1]].tolist() == expected[i]
    assert offsets[-1] == len(tokens)
    assert id_lines[0] == " ".join(map(str, expected[0]))
    assert id_lines[-1] == " ".join(map(str, expected[-1]))
    assert len(id_lines) == len(expected)


def test_short_lines_and_titles_are_dropped(tmp_path, bert_tokenizer_dir):
    lines = ["Anarchism", "History", "Anarchism is a political philosophy .", "Too short here .",
             "", "   ", "Later anarchists were also active in the labour movement ."]
    (tmp_path / "t.raw").write_text("\n".join(lines) + "\n")
    tokenize_file(tmp_path / "t.raw", str(bert_tokenizer_dir), processes=1)
    _, offsets, id_lines = outputs_for(tmp_path / "t.raw", bert_tokenizer_dir)
    assert len(id_lines) == 2 and len(offsets) == 3


def test_words_are_counted_as_the_authors_did_by_single_spaces():
    assert keep_line("one two three four five\n") and not keep_line("one two three four\n")
    assert keep_line("one two  three four\n")  # two spaces: an empty fifth word, as theirs
    assert not keep_line("one\ttwo three four five")  # a tab joins two words
    assert not keep_line("one\xa0two three four five")  # so does a non-breaking space
    assert not keep_line("  Anarchism  \n") and not keep_line("\n")


def test_a_tokenizer_folder_that_stores_truncation_and_padding_tokenises_whole_lines(tmp_path, bert_text,
                                                                                    bert_tokenizer_dir):
    stored = tmp_path / "stored"
    shutil.copytree(bert_tokenizer_dir, stored)
    tokenizer_json = json.loads((stored / "tokenizer.json").read_text())
    tokenizer_json["truncation"] = {"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0}
    tokenizer_json["padding"] = {"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": None,
                                 "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}
    (stored / "tokenizer.json").write_text(json.dumps(tokenizer_json))
    assert len(load_tokenizer(str(stored)).backend_tokenizer.encode("a b c d e f g h i j k l").ids) == 8
    lines = (bert_text / "en.valid.raw").read_text().splitlines()[:200]
    for folder in ("plain", "stored-run"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "t.raw").write_text("\n".join(lines) + "\n")
    tokenize_file(tmp_path / "plain" / "t.raw", str(bert_tokenizer_dir))
    tokenize_file(tmp_path / "stored-run" / "t.raw", str(stored))
    plain, plain_offsets, _ = outputs_for(tmp_path / "plain" / "t.raw", bert_tokenizer_dir)
    ours, offsets, _ = outputs_for(tmp_path / "stored-run" / "t.raw", stored)
    assert np.array_equal(ours, plain) and np.array_equal(offsets, plain_offsets)
    assert len(set(np.diff(offsets).tolist())) > 5


def outputs_for(text_file, tokenizer_dir):
    base = text_file.with_name(f"{text_file.name}.{tokenizer_tag(str(tokenizer_dir))}")
    with h5py.File(f"{base}.hdf5", "r") as h5:
        tokens = h5["tokens"][:]
    return tokens, np.loadtxt(f"{base}.line", dtype=np.int64), base.read_text().splitlines()


def test_one_and_two_processes_write_identical_files(tmp_path, bert_text, bert_tokenizer_dir):
    results = []
    for processes in (1, 2):
        folder = tmp_path / f"p{processes}"
        folder.mkdir()
        shutil.copy(bert_text / "en.train.raw", folder / "en.train.raw")
        tokenize_file(folder / "en.train.raw", str(bert_tokenizer_dir), processes=processes)
        results.append(outputs_for(folder / "en.train.raw", bert_tokenizer_dir))
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]


def test_sentence_index_splits_lines_into_sentences(roberta_tokenized, roberta_tokenizer_dir):
    tokenizer = load_tokenizer(str(roberta_tokenizer_dir))  # on the test split: the larger held-out one
    tokens, line_offsets, _ = outputs(roberta_tokenized, "test", roberta_tokenizer_dir)
    base = roberta_tokenized / f"en.test.raw.{tokenizer_tag(str(roberta_tokenizer_dir))}"
    sent_offsets = np.loadtxt(f"{base}.sent", dtype=np.int64)
    assert np.all(np.diff(sent_offsets) > 0)
    assert set(line_offsets) <= set(sent_offsets), "every line starts a sentence"
    assert len(sent_offsets) > 2 * len(line_offsets)
    sentences = [tokenizer.decode(tokens[a:b]).strip() for a, b in zip(sent_offsets[:-1], sent_offsets[1:])]
    # the spans are spaCy's sentences of each line (a sentence may rarely start inside a token)
    lines = [line for line in (roberta_tokenized / "en.test.raw").read_text().splitlines() if keep_line(line)]
    expected = [sent.strip() for chars in sentence_texts(lines) for sent in chars]
    matches = len(set(sentences) & set(expected))
    assert matches > 0.95 * len(expected), (matches, len(expected))


def sentence_texts(lines):
    from tokenization.sentences import sentencizer

    return [[sent.text for sent in doc.sents] for doc in sentencizer("en").pipe(lines)]


def test_lines_are_sents_writes_the_line_index_as_sent(tmp_path, bert_text, bert_tokenizer_dir):
    shutil.copy(bert_text / "en.valid.raw", tmp_path / "en.valid.raw")
    files = tokenize_file(tmp_path / "en.valid.raw", str(bert_tokenizer_dir), lines_are_sents=True)
    assert files["sent"].read_text() == files["line"].read_text()


def _cli(python, args):
    """On ``python``: the warm interpreter (tests/warm_python.py)."""
    return run([python, "-m", "tokenization.tokenize_dataset", *args], check=False)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_file", "does not exist"),
        ("empty_file", "is empty"),
        ("no_long_lines", "has 5 or more words"),
        ("missing_tokenizer", "not a local folder and is not in the Hugging Face cache"),
        ("tokenizer_is_a_file", "is a file; pass the folder"),
    ],
)
def test_bad_input_is_one_clear_line_and_leaves_no_output(tmp_path, bert_tokenizer_dir, case, message,
                                                          warm_python):
    text = tmp_path / "en.x.raw"
    tokenizer = str(bert_tokenizer_dir)
    if case == "empty_file":
        text.write_text("")
    elif case == "no_long_lines":
        text.write_text("Title\nShort line here\n")
    elif case in ("missing_tokenizer", "tokenizer_is_a_file"):
        text.write_text("Anarchism is a political philosophy that advocates stateless societies .\n")
        tokenizer = "bert-base-uncased" if case == "missing_tokenizer" else str(bert_tokenizer_dir / "tokenizer.json")
    result = _cli(warm_python, [str(tmp_path), "en.x.raw", tokenizer, "--processes", "1"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "en.x.raw"]
    assert leftovers == [], leftovers


def test_gpt2_tokenizer_tokenises_to_hdf5_whose_ids_decode_to_the_kept_lines(gpt2_tokenized, gpt2_tokenizer_dir):
    tok = load_tokenizer(str(gpt2_tokenizer_dir))
    base = gpt2_tokenized / f"en.valid.raw.{gpt2_tokenizer_dir.name}"
    with h5py.File(f"{base}.hdf5", "r") as h5:
        tokens = h5["tokens"][:]
    offsets = np.loadtxt(f"{base}.line", dtype=np.int64)
    kept = [line.strip() for line in (gpt2_tokenized / "en.valid.raw").read_text(encoding="utf-8").splitlines()
            if keep_line(line)]
    assert len(offsets) == len(kept) + 1 and offsets[-1] == len(tokens)
    assert tok.eos_token_id not in tokens  # the separators are the dataset's, not the file's
    for i in (0, 1, len(kept) // 2, len(kept) - 1):
        assert tok.decode(tokens[offsets[i]:offsets[i + 1]].tolist()) == kept[i]
