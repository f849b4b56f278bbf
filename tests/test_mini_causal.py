"""The causal-LM miniatures (scripts/mini_causal_lm.sh gpt2 and llama) end to end at tiny
settings: a file of their own, so that the suite's workers share the miniatures' minutes."""

import pytest
from conftest import TEST_LINES, VALID_LINES, run
from training_helpers import config_text, read_metrics, tiny_config
from transformers import AutoTokenizer

# Each causal-LM miniature: its eos, its token ids (bos, eos) in the tiny configs, its rows beyond the common ones.
CAUSAL_MINIATURES = {"gpt2": ("<|endoftext|>", (0, 0), set()), "llama": ("</s>", (1, 2), {"Net2Net+noise"})}


@pytest.mark.parametrize("family", sorted(CAUSAL_MINIATURES))
def test_mini_causal_lm_trains_its_tokenizer_every_row_and_reports(family, tmp_path, roberta_text, warm_python):
    """scripts/mini_causal_lm.sh FAMILY end to end at tiny settings: the data stage finds the
    text prepared (the session's, from the same dump), trains the family's tokenizer and tokenises,
    then every run and the report."""
    eos, (bos_id, eos_id), rows_of_its_own = CAUSAL_MINIATURES[family]
    data = tmp_path / "data"
    data.mkdir()
    for name in ("SOURCE", "en.train.raw", "en.valid.raw", "en.test.raw"):
        (data / name).write_bytes((roberta_text / name).read_bytes())
    tokenizer = tmp_path / f"{family}-tok"
    vocab = 1000
    tiny = dict(eos_token_id=eos_id, bos_token_id=bos_id)
    env = {
        "PYTHON": str(warm_python), "VALID_LINES": str(VALID_LINES), "TEST_LINES": str(TEST_LINES),
        "VOCAB_SIZE": str(vocab), f"MINI_{family.upper()}_DATA": str(data),
        f"MINI_{family.upper()}_TOKENIZER": str(tokenizer),
        "MINI_CONFIG": str(config_text(tmp_path / "mini.txt", family, data, tokenizer, logging_steps=4, ckpt_steps=4,
                                       learning_rate="2e-3")),
        "MINI_SMALL_CONFIG": str(tiny_config(tmp_path / "small.json", family, vocab, layers=2, hidden=32, **tiny)),
        "MINI_LARGE_CONFIG": str(tiny_config(tmp_path / "large.json", family, vocab, layers=4, hidden=64, **tiny)),
        "SMALL_STEPS": "4", "LARGE_STEPS": "8", "MINI_RUNS": str(tmp_path / "runs"),
        "MINI_RESULTS": str(tmp_path / "results"),
    }
    output = run(["bash", "scripts/mini_causal_lm.sh", family], env=env).stdout
    assert "is already prepared from this dump" in output
    assert AutoTokenizer.from_pretrained(str(tokenizer)).eos_token == eos
    assert (data / f"en.train.raw.{tokenizer.name}.hdf5").is_file()
    table = (tmp_path / "results/savings.md").read_text()
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")}
    assert {"Scratch", "StackBERT", "MSLT", "bert2BERT", "LiGO", *rows_of_its_own} <= rows, table
    assert "perplexity" in table and f"make mini-{family}" in (tmp_path / "results/RUN.md").read_text()
    assert read_metrics(tmp_path / "runs/ligo")[-1]["step"] == 8
