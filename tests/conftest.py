"""Shared fixtures: the real Wikipedia sample run through the real pipeline, once per session.

Everything is built in temporary folders with the project's own scripts, so the tests
check the pipeline a user runs, not a stand-in."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import warm_python as warm
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
# Tests never reach the Hugging Face hub; subprocesses inherit this.
os.environ["HF_HUB_OFFLINE"] = "1"
VALID_LINES = 60
TEST_LINES = 100


# The longest test files first (measured with --durations=0): `make test` hands whole files to
# its pytest-xdist workers in this order (--no-loadscope-reorder), so that no long file starts
# last and leaves one core idle while it runs. Files not named follow in their usual order.
LONGEST_FIRST = ["test_paper_recipes.py", "test_mini_scripts.py", "test_preemption.py", "test_fsdp.py",
                 "test_training_methods.py", "test_paper_recipes_llama.py", "test_mini_causal.py",
                 "test_growth_end_to_end.py", "test_fault_injection.py", "test_checkpoint_integrity.py",
                 "test_gpt2_training.py", "test_llama_training.py", "test_vit.py", "test_pretraining.py",
                 "test_gpu_options.py", "test_gpu_scripts.py", "test_bad_inputs.py", "test_rank_failure.py",
                 "test_glue.py", "test_squad.py"]


def pytest_collection_modifyitems(items):
    order = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))  # stable: tests keep their order


def run(cmd, env=None, check=True, cwd=REPO):
    """Run a command of the project as a user would; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    result = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def once(tmp_path_factory, name, build) -> Path:
    """A session fixture's folder, built once for all pytest-xdist workers (`make test` runs
    several): the first worker to ask builds it under a file lock, the others wait and reuse it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build()
    shared = tmp_path_factory.getbasetemp().parent
    with FileLock(shared / f"{name}.lock"):
        record = shared / f"{name}.path"
        if record.exists():
            return Path(record.read_text())
        path = build()
        record.write_text(str(path))
        return path


@pytest.fixture(scope="session")
def sample_dump(tmp_path_factory) -> Path:
    return once(tmp_path_factory, "sample_dump", lambda: Path(
        run(["bash", "data/sample/fetch_sample_dump.sh"]).stdout.strip().splitlines()[-1]))


def _prepare(tmp_path_factory, sample_dump, script, name, python) -> Path:
    out = tmp_path_factory.mktemp("wiki") / name
    env = {"WIKI_OUT_DIR": str(out), "VALID_LINES": str(VALID_LINES), "TEST_LINES": str(TEST_LINES), "PYTHON": python}
    run(["bash", script, "en", str(sample_dump)], env=env)
    return out


@pytest.fixture(scope="session")
def bert_text(tmp_path_factory, sample_dump, warm_python) -> Path:
    """Folder with en.{all,train,valid,test}.raw, Moses-tokenised (the BERT data). The session's data
    are prepared by the warm interpreter (tests/warm_python.py): the same scripts, fewer imports."""
    return once(tmp_path_factory, "bert_text", lambda: _prepare(
        tmp_path_factory, sample_dump, "data/wiki/get_data_cased.bash", "wiki-cased", warm_python))


@pytest.fixture(scope="session")
def roberta_text(tmp_path_factory, sample_dump, warm_python) -> Path:
    """Folder with en.{all,train,valid,test}.raw, not Moses-tokenised (the RoBERTa data)."""
    return once(tmp_path_factory, "roberta_text", lambda: _prepare(
        tmp_path_factory, sample_dump, "data/wiki/get_data_cased_untokenized.bash", "wiki-untok", warm_python))


def _train_tokenizer(tmp_path_factory, kind, text_dir, python, vocab_size=4000) -> Path:
    def build():
        out = tmp_path_factory.mktemp("tokenizers") / f"{kind}-test"
        run([python, "-m", "tokenization.train_tokenizer", "--kind", kind, "--input",
             str(text_dir / "en.train.raw"), "--vocab_size", str(vocab_size), "--output_dir", str(out)])
        return out
    return once(tmp_path_factory, f"{kind}_tokenizer", build)


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


def _untokenized_copy_tokenised(tmp_path_factory, family, text_dir, tokenizer_dir, python) -> Path:
    """The untokenised text in a folder of its own (``<family>_tokenized``), every split tokenised
    with ``tokenizer_dir``: the causal-LM families' data, each with its own tokenizer."""
    def build():
        out = tmp_path_factory.mktemp(f"wiki-{family}") / "wiki-untok"
        out.mkdir()
        for split in ("train", "valid", "test"):
            (out / f"en.{split}.raw").write_bytes((text_dir / f"en.{split}.raw").read_bytes())
        run(["bash", "tokenization/tokenize_splits.bash", str(out), str(tokenizer_dir)], env={"PYTHON": python})
        return out
    return once(tmp_path_factory, f"{family}_tokenized", build)


@pytest.fixture(scope="session")
def gpt2_tokenized(tmp_path_factory, roberta_text, gpt2_tokenizer_dir, warm_python) -> Path:
    """The untokenised text in a folder of its own, every split tokenised with the GPT-2 tokenizer
    by the project's script (the .line index gives the document ends)."""
    return _untokenized_copy_tokenised(tmp_path_factory, "gpt2", roberta_text, gpt2_tokenizer_dir, warm_python)


@pytest.fixture(scope="session")
def llama_tokenizer_dir(tmp_path_factory, roberta_text, warm_python) -> Path:
    """A Llama byte-level BPE (``<unk> <s> </s>``) on the untokenised text (GPT-2's data)."""
    return _train_tokenizer(tmp_path_factory, "llama", roberta_text, warm_python)


@pytest.fixture(scope="session")
def llama_tokenized(tmp_path_factory, roberta_text, llama_tokenizer_dir, warm_python) -> Path:
    """The untokenised text in a folder of its own, every split tokenised with the Llama tokenizer."""
    return _untokenized_copy_tokenised(tmp_path_factory, "llama", roberta_text, llama_tokenizer_dir, warm_python)


@pytest.fixture(scope="session")
def bert_tokenized(tmp_path_factory, bert_text, bert_tokenizer_dir, warm_python) -> Path:
    """bert_text with every split tokenised by the project's bash script."""
    def build():
        run(["bash", "tokenization/tokenize_wiki_bert.bash"],
            env={"DATA_DIR": str(bert_text), "TOKENIZER": str(bert_tokenizer_dir), "PYTHON": warm_python})
        return bert_text
    return once(tmp_path_factory, "bert_tokenized", build)


@pytest.fixture(scope="session")
def roberta_tokenized(tmp_path_factory, roberta_text, roberta_tokenizer_dir, warm_python) -> Path:
    def build():
        run(["bash", "tokenization/tokenize_wiki_roberta.bash", "--split_sentences"],
            env={"DATA_DIR": str(roberta_text), "TOKENIZER": str(roberta_tokenizer_dir), "PYTHON": warm_python})
        return roberta_text
    return once(tmp_path_factory, "roberta_tokenized", build)


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory, warm_python) -> Path:
    """scikit-learn's handwritten digits as an ImageFolder tree (train/ and val/), by the project's
    own writer: the real images the ViT tests train on."""
    def build():
        out = tmp_path_factory.mktemp("images") / "digits"
        run([warm_python, "-m", "ligo.data.digits", "--output_dir", str(out)])
        return out
    return once(tmp_path_factory, "digits", build)


@pytest.fixture(scope="session")
def warm_python(tmp_path_factory) -> str:
    """The path of an executable that behaves as `python`, started warm (tests/warm_python.py
    says for which commands it may stand in)."""
    client, server = warm.start(tmp_path_factory.mktemp("warm-python"))
    yield client
    server.kill()
    server.wait()
