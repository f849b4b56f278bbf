"""Llama tokenizer folders as the hub ships them, built offline on the sample: a Llama-2 style one
(``LlamaTokenizer``: SentencePiece-style BPE with byte fallback, ``add_bos_token`` true) and a
Llama-3 style one (byte-level BPE, ``<|begin_of_text|>`` / ``<|end_of_text|>`` after the merges,
no unknown token, a post-processor that adds the bos). Each tokenises the data, trains a tiny
Llama and grows it with ``python -m ligo.grow``: the data holds one bos a block (the tokenizer's
own is not added again) and the grown folder travels with the same tokenizer."""

import pytest
import torch
from conftest import run
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from training_helpers import config_text, lm_command, read_metrics, tiny_config
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaTokenizer, PreTrainedTokenizerFast

from ligo.data.dataset import BlockDataset
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
from ligo.models.families import family_of
from ligo.tasks.grow import main as grow

LINES = {"train": 800, "valid": 120, "test": 60}


def llama2_folder(text, out):
    sentencepiece = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    sentencepiece.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    sentencepiece.train([str(text)], trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<s>", "</s>"],
                                                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    model = sentencepiece.get_vocab(), [tuple(m.split(" ")) for m in _merges(sentencepiece)]
    tokenizer = LlamaTokenizer(vocab=model[0], merges=model[1], add_bos_token=True, legacy=False)
    assert tokenizer("the history")["input_ids"][0] == tokenizer.bos_token_id  # its own bos, as the hub's
    tokenizer.save_pretrained(str(out))


def llama3_folder(text, out):
    byte_level = Tokenizer(models.BPE())
    byte_level.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    byte_level.decoder = decoders.ByteLevel()
    byte_level.train([str(text)], trainers.BpeTrainer(vocab_size=600,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    byte_level.add_special_tokens(["<|begin_of_text|>", "<|end_of_text|>"])  # after the merges, as Llama 3's
    bos = byte_level.token_to_id("<|begin_of_text|>")
    byte_level.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                              special_tokens=[("<|begin_of_text|>", bos)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=byte_level, bos_token="<|begin_of_text|>",
                                        eos_token="<|end_of_text|>")
    assert tokenizer.unk_token is None and tokenizer("the history")["input_ids"][0] == bos
    tokenizer.save_pretrained(str(out))


def _merges(tokenizer: Tokenizer) -> list[str]:
    import json
    return [m if isinstance(m, str) else " ".join(m) for m in json.loads(tokenizer.to_str())["model"]["merges"]]


@pytest.fixture(scope="module")
def text(tmp_path_factory, roberta_text):
    folder = tmp_path_factory.mktemp("hub-style") / "text"
    folder.mkdir()
    for split, count in LINES.items():
        lines = (roberta_text / f"en.{split}.raw").read_text(encoding="utf-8").splitlines()[:count]
        (folder / f"en.{split}.raw").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("style", ["llama2", "llama3"])
def test_a_hub_style_llama_tokenizer_folder_tokenises_trains_and_travels_with_the_grown_model(
        style, text, tmp_path, warm_python):
    folder = tmp_path / f"{style}-tokenizer"
    (llama2_folder if style == "llama2" else llama3_folder)(text / "en.train.raw", folder)
    data = tmp_path / "data"
    data.mkdir()
    for split in LINES:
        (data / f"en.{split}.raw").write_bytes((text / f"en.{split}.raw").read_bytes())
    run(["bash", "tokenization/tokenize_splits.bash", str(data), str(folder)], env={"PYTHON": warm_python})

    tokenizer = load_tokenizer(str(folder))
    family = family_of("llama")
    blocks = BlockDataset(data / "en.valid.raw", tokenizer_tag(str(folder)), tokenizer, 30,
                          start_token=family.block_start_token, end_token=family.block_end_token,
                          separator_token=family.document_end_token)
    rows = [blocks[i]["input_ids"].tolist() for i in range(len(blocks))]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    # one bos a block: the data's, not the tokenizer's own as well
    assert rows and all(row[0] == bos and bos not in row[1:] for row in rows)
    assert sum(row.count(eos) for row in rows) > 0  # the documents' ends

    small_config = tiny_config(tmp_path / "small.json", "llama", len(tokenizer), block_size=30,
                               eos_token_id=eos, bos_token_id=bos)
    config = config_text(tmp_path / "llama.txt", "llama", data, folder, block_size=30, max_steps=2, logging_steps=2,
                         ckpt_steps=2, num_workers=0, warmup_steps=0)
    small = tmp_path / "small"
    run(lm_command(config, small_config, small, python=warm_python))
    assert [m["step"] for m in read_metrics(small)] == [0, 2]

    large_config = tiny_config(tmp_path / "large.json", "llama", len(tokenizer), hidden=128, block_size=30,
                               eos_token_id=eos, bos_token_id=bos)
    grown = tmp_path / "grown"
    grow(["--model_type", "llama", "--config_name", str(large_config), "--grow_scheme", "net2net",
          "--source_model_path", str(small), "--output_dir", str(grown)])
    travelled = AutoTokenizer.from_pretrained(str(grown))
    sentence = "The history of the city began in 1850."
    assert travelled(sentence)["input_ids"] == AutoTokenizer.from_pretrained(str(folder))(sentence)["input_ids"]
    assert (travelled.bos_token, travelled.eos_token) == (tokenizer.bos_token, tokenizer.eos_token)
    ids = torch.tensor([rows[0]])
    small_model = AutoModelForCausalLM.from_pretrained(str(small / "checkpoints/checkpoint-00000002")).eval()
    grown_model = AutoModelForCausalLM.from_pretrained(str(grown)).eval()
    with torch.no_grad():
        assert (grown_model(input_ids=ids).logits - small_model(input_ids=ids).logits).abs().max() < 1e-5
