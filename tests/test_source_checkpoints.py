"""Growing the checkpoints users bring (`python -m ligo.grow`, in-process): folders built here from
the tiny world's sample in the layouts public checkpoints have: a sentence-embedding BERT's
BertModel weights (no ``bert.`` prefix, no masked-LM head, a pooler) in float16 with a
tokenizer.json that truncates and pads to 128; a BertForPreTraining; a checkpoint without a
tokenizer. Each is refused in one line with nothing written, or grown (2L-64H to 4L-128H, heads
of 32) into a folder that AutoModel and AutoTokenizer load, with the source's token ids."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny_world import build_world, save_model, save_operator_run
from tokenizers import Tokenizer
from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer, BertForPreTraining, BertModel

from ligo.base.errors import UserError
from ligo.data.vocabulary import check_same_vocabulary
from ligo.models.loading import load_config, read_model
from ligo.tasks.grow import main
from tokenization.train_tokenizer import train_tokenizer

TEXT = ["the movie was really good", "maybe it is true ?"]  # words of the sample


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"))


def padded_tokenizer(tokenizer_dir: Path, folder: Path):
    """The tokenizer as public checkpoints ship it: its tokenizer.json truncates and pads to 128."""
    backend = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    backend.enable_truncation(128)
    backend.enable_padding(length=128, pad_id=0, pad_token="[PAD]")
    backend.save(str(folder / "tokenizer.json"))
    shutil.copy(tokenizer_dir / "tokenizer_config.json", folder)


def save_source(folder: Path, world, model_class=BertModel, dtype=torch.float16, tokenizer=True) -> Path:
    """``model_class`` (BertModel: a sentence-embedding BERT's weights) of the small config, saved in ``dtype``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = model_class(load_config("bert", str(world.small_config)))
    model.to(dtype).save_pretrained(str(folder))
    if tokenizer:
        padded_tokenizer(world.tokenizer, folder)
    return folder


def grow(capsys, world, out: Path, *extra) -> tuple[int, str, str]:
    capsys.readouterr()  # what building the inputs printed
    try:
        main(["--model_type", "bert", "--config_name", str(world.large_config), "--output_dir", str(out),
              *map(str, extra)])
        code = 0
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(result, out: Path, *texts):
    code, _, stderr = result
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), stderr
    for text in texts:
        assert text in lines[0], lines[0]
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*")), "a refused grow wrote something"


def ids(folder: Path) -> list[list[int]]:
    return AutoTokenizer.from_pretrained(str(folder))(TEXT)["input_ids"]


def test_a_base_model_without_its_head_is_refused_naming_the_choice(tmp_path, world, capsys):
    source = save_source(tmp_path / "minilm", world)
    out = tmp_path / "grown"
    assert_refused(grow(capsys, world, out, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source), out,
                   f"model '{source}' has no masked-LM head (cls.predictions.*: a BertModel checkpoint)",
                   "pass --source_head random to initialise one from --seed, or a checkpoint that holds it")


def test_a_base_model_grows_with_a_seeded_head_in_its_dtype_and_with_its_tokenizer(tmp_path, world, capsys):
    source = save_source(tmp_path / "minilm", world)
    flags = ("--grow_scheme", "bert2bert_fpi", "--source_model_path", source, "--source_head", "random")
    code, said, _ = grow(capsys, world, tmp_path / "a", *flags)
    assert code == 0
    assert said.splitlines()[:3] == [
        f"model '{source}' has no masked-LM head (a BertModel checkpoint): cls.predictions.* initialised from --seed "
        "95; its decoder stays tied to the input embeddings",
        f"model '{source}': its pooler is dropped: BertForMaskedLM has no place for it, so a model grown or trained "
        "from it lacks it (a class that has it, such as AutoModel, gets it untrained)",
        "source is float16: grown in float32, saved as float16"]
    assert grow(capsys, world, tmp_path / "b", *flags)[0] == 0
    assert grow(capsys, world, tmp_path / "c", *flags, "--seed", 7, "--dtype", "float32")[0] == 0
    a, b, c = (load_file(str(tmp_path / name / "model.safetensors")) for name in "abc")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # the same seed, the same model
    head = "cls.predictions.transform.dense.weight"
    assert not torch.equal(a[head].float(), c[head])
    assert {t.dtype for t in a.values()} == {torch.float16} and {t.dtype for t in c.values()} == {torch.float32}

    model, info = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "a"), output_loading_info=True)
    assert model.dtype == torch.float16 and not any(info.values())
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert type(AutoModel.from_pretrained(str(tmp_path / "a"))).__name__ == "BertModel"
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "a"))
    assert len(tokenizer) == world.vocab and ids(tmp_path / "a") == ids(source)
    assert all(len(row) > 4 and tokenizer.unk_token_id not in row for row in ids(tmp_path / "a"))


def test_the_source_weights_are_read_with_or_without_the_prefix(tmp_path, world):
    for model_class in (BertModel, BertForPreTraining):  # weights named embeddings.*, and bert.embeddings.*
        folder = save_source(tmp_path / model_class.__name__, world, model_class, torch.float32, tokenizer=False)
        saved = load_file(str(folder / "model.safetensors"))
        name = "encoder.layer.1.output.dense.weight"
        loaded = read_model("bert", str(folder), new_head_seed=1)
        assert torch.equal(loaded.model.bert.get_parameter(name), saved.get(name, saved.get(f"bert.{name}")))
        assert loaded.saved_dtype == torch.float32


def test_a_pretraining_checkpoint_grows_naming_what_is_dropped(tmp_path, world, capsys):
    source = save_source(tmp_path / "pretraining", world, BertForPreTraining, torch.float32)
    code, said, _ = grow(capsys, world, tmp_path / "grown", "--grow_scheme", "stackbert_direct_copy",
                         "--source_model_path", source)
    assert code == 0, said
    assert said.splitlines()[0] == (
        f"model '{source}': its pooler and next-sentence head (cls.seq_relationship) are dropped: BertForMaskedLM has "
        "no place for them, so a model grown or trained from it lacks them (a class that has them, such as AutoModel, "
        "gets them untrained)")
    assert "float" not in said  # a float32 source: nothing to say of its dtype
    assert ids(tmp_path / "grown") == ids(source)


def test_a_source_missing_an_encoder_weight_is_refused(tmp_path, world, capsys):
    source = save_source(tmp_path / "cut", world)
    weights = load_file(str(source / "model.safetensors"))
    del weights["encoder.layer.1.output.dense.weight"]
    save_file(weights, str(source / "model.safetensors"), metadata={"format": "pt"})
    out = tmp_path / "grown"
    assert_refused(grow(capsys, world, out, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source,
                        "--source_head", "random"), out,
                   f"model '{source}' lacks weight bert.encoder.layer.1.output.dense.weight: it is incomplete",
                   "pass a complete checkpoint")


def test_a_grown_folder_without_a_tokenizer_is_refused_unless_one_is_given(tmp_path, world, capsys):
    source = save_model(tmp_path / "bare", world.small_config, "bert")  # a complete model, no tokenizer
    out = tmp_path / "grown"
    assert_refused(grow(capsys, world, out, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source), out,
                   f"no tokenizer to save with the grown model: source model '{source}' holds none",
                   "pass the tokenizer the source was trained with as --tokenizer_name")
    assert grow(capsys, world, out, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source,
                "--tokenizer_name", world.tokenizer)[0] == 0
    assert ids(out) == ids(world.tokenizer)


def test_a_tokenizer_far_smaller_than_the_models_vocabulary_is_refused(tmp_path, world, capsys):
    # The case: the sample's small tokenizer with a model of a far larger vocabulary, which
    # came without a tokenizer of its own to compare ids with.
    config = json.loads(world.small_config.read_text())
    large_vocab = tmp_path / "large-vocab.json"
    large_vocab.write_text(json.dumps({**config, "vocab_size": config["vocab_size"] + 1000}))
    source = save_model(tmp_path / "bare", large_vocab, "bert")
    target = tmp_path / "target.json"
    large = json.loads(world.large_config.read_text())
    target.write_text(json.dumps({**large, "vocab_size": config["vocab_size"] + 1000}))
    out = tmp_path / "grown"
    code, _, err = grow(capsys, world, out, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source,
                        "--tokenizer_name", world.tokenizer, "--config_name", target)
    assert code == 2 and not out.exists(), err
    assert f"tokenizer '{world.tokenizer}' is not the vocabulary of model '{source}': it has {world.vocab} tokens, " \
           f"far fewer than the model's {world.vocab + 1000}" in err


def test_a_tokenizer_of_another_vocabulary_is_refused(tmp_path, world, capsys):
    # The same alphabet, other words: the first ids agree, the rest of the vocabulary does not.
    text = tmp_path / "reversed.txt"
    lines = (world.text_dir / "en.train.raw").read_text().splitlines()
    text.write_text("".join(" ".join(word[::-1] for word in line.split()) + "\n" for line in lines[::2]))
    other = tmp_path / "other-tokenizer"
    train_tokenizer("bert-uncased", [text], 1000).save_pretrained(str(other))
    source = save_source(tmp_path / "minilm", world, BertForPreTraining, torch.float32)
    out = tmp_path / "grown"
    assert_refused(grow(capsys, world, out, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source,
                        "--tokenizer_name", other), out,
                   f"tokenizer '{other}' is not the vocabulary of model '{source}': token '",
                   "in the model's own tokenizer; leave --tokenizer_name out to save the source's own")


def test_special_token_ids_that_differ_are_refused(world):
    own = AutoTokenizer.from_pretrained(str(world.tokenizer))
    other = AutoTokenizer.from_pretrained(str(world.tokenizer))
    other.pad_token = "[UNK]"
    config = load_config("bert", str(world.small_config))
    check_same_vocabulary(own, "same", config, "small", own, "fix")
    with pytest.raises(UserError, match=r"^tokenizer 'other' is not the vocabulary of model 'small': its pad token is "
                                        r"id 1, the model's config has pad_token_id 0; fix$"):
        check_same_vocabulary(other, "other", config, "small", own, "fix")
    config.pad_token_id = None  # then the model's own tokenizer says it
    with pytest.raises(UserError, match="its pad token is id 1, id 0 in the model's own tokenizer"):
        check_same_vocabulary(other, "other", config, "small", own, "fix")


def test_a_ligo_grow_saves_the_operators_tokenizer(tmp_path, world, capsys):
    checkpoint = save_operator_run(world, tmp_path / "ligo")
    out = tmp_path / "grown"
    assert_refused(grow(capsys, world, out, "--grow_scheme", "ligo", "--pretrained_ligo_path", tmp_path / "ligo"),
                   out, f"the LiGO operator checkpoint '{checkpoint}' holds none")
    for file in world.tokenizer.iterdir():  # as run_grow_distributed.py's checkpoints hold it
        shutil.copy(file, checkpoint)
    assert grow(capsys, world, out, "--grow_scheme", "ligo", "--pretrained_ligo_path", tmp_path / "ligo")[0] == 0
    assert ids(out) == ids(world.tokenizer)
