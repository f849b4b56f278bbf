"""Shared fixtures: the real Wikipedia sample run through the real pipeline, once per session.

Everything is built in temporary folders with the project's own scripts, so the tests
check the pipeline a user runs, not a stand-in."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import warm_python as warm

REPO = Path(__file__).resolve().parents[1]
# Tests never reach the Hugging Face hub; subprocesses inherit this.
os.environ["HF_HUB_OFFLINE"] = "1"
VALID_LINES = 150
TEST_LINES = 100


def run(cmd, env=None, check=True, cwd=REPO):
    """Run a command of the project as a user would; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    result = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def sample_dump() -> Path:
    path = run(["bash", "data/sample/fetch_sample_dump.sh"]).stdout.strip().splitlines()[-1]
    return Path(path)


def _prepare(tmp_path_factory, sample_dump, script, name, python) -> Path:
    out = tmp_path_factory.mktemp("wiki") / name
    env = {"WIKI_OUT_DIR": str(out), "VALID_LINES": str(VALID_LINES), "TEST_LINES": str(TEST_LINES), "PYTHON": python}
    run(["bash", script, "en", str(sample_dump)], env=env)
    return out


@pytest.fixture(scope="session")
def bert_text(tmp_path_factory, sample_dump, warm_python) -> Path:
    """Folder with en.{all,train,valid,test}.raw, Moses-tokenised (the BERT data). The session's data
    are prepared by the warm interpreter (tests/warm_python.py): the same scripts, fewer imports."""
    return _prepare(tmp_path_factory, sample_dump, "data/wiki/get_data_cased.bash", "wiki-cased", warm_python)


@pytest.fixture(scope="session")
def roberta_text(tmp_path_factory, sample_dump, warm_python) -> Path:
    """Folder with en.{all,train,valid,test}.raw, not Moses-tokenised (the RoBERTa data)."""
    return _prepare(tmp_path_factory, sample_dump, "data/wiki/get_data_cased_untokenized.bash", "wiki-untok",
                    warm_python)


def _train_tokenizer(tmp_path_factory, kind, text_dir, python, vocab_size=4000) -> Path:
    out = tmp_path_factory.mktemp("tokenizers") / f"{kind}-test"
    run([python, "-m", "tokenization.train_tokenizer", "--kind", kind, "--input",
         str(text_dir / "en.train.raw"), "--vocab_size", str(vocab_size), "--output_dir", str(out)])
    return out


@pytest.fixture(scope="session")
def bert_tokenizer_dir(tmp_path_factory, bert_text, warm_python) -> Path:
    return _train_tokenizer(tmp_path_factory, "bert-uncased", bert_text, warm_python)


@pytest.fixture(scope="session")
def roberta_tokenizer_dir(tmp_path_factory, roberta_text, warm_python) -> Path:
    return _train_tokenizer(tmp_path_factory, "roberta", roberta_text, warm_python)


@pytest.fixture(scope="session")
def gpt2_tokenizer_dir(tmp_path_factory, roberta_text, warm_python) -> Path:
    """A GPT-2 byte-level BPE on the untokenised text (GPT-2's data, as RoBERTa's)."""
    return _train_tokenizer(tmp_path_factory, "gpt2", roberta_text, warm_python)


@pytest.fixture(scope="session")
def gpt2_tokenized(tmp_path_factory, roberta_text, gpt2_tokenizer_dir, warm_python) -> Path:
    """The untokenised text in a folder of its own, every split tokenised with the GPT-2 tokenizer
    by the project's script (the .line index gives the document ends)."""
    out = tmp_path_factory.mktemp("wiki-gpt2") / "wiki-untok"
    out.mkdir()
    for split in ("train", "valid", "test"):
        (out / f"en.{split}.raw").write_bytes((roberta_text / f"en.{split}.raw").read_bytes())
    run(["bash", "tokenization/tokenize_splits.bash", str(out), str(gpt2_tokenizer_dir)], env={"PYTHON": warm_python})
    return out


@pytest.fixture(scope="session")
def bert_tokenized(bert_text, bert_tokenizer_dir, warm_python) -> Path:
    """bert_text with every split tokenised by the project's bash script."""
    run(["bash", "tokenization/tokenize_wiki_bert.bash"],
        env={"DATA_DIR": str(bert_text), "TOKENIZER": str(bert_tokenizer_dir), "PYTHON": warm_python})
    return bert_text


@pytest.fixture(scope="session")
def roberta_tokenized(roberta_text, roberta_tokenizer_dir, warm_python) -> Path:
    run(["bash", "tokenization/tokenize_wiki_roberta.bash", "--split_sentences"],
        env={"DATA_DIR": str(roberta_text), "TOKENIZER": str(roberta_tokenizer_dir), "PYTHON": warm_python})
    return roberta_text


@pytest.fixture(scope="session")
def warm_python(tmp_path_factory) -> str:
    """The path of an executable that behaves as `python`, started warm (tests/warm_python.py
    says for which commands it may stand in)."""
    client, server = warm.start(tmp_path_factory.mktemp("warm-python"))
    yield client
    server.kill()
    server.wait()
