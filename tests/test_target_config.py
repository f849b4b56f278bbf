"""Target configs (ligo/models/target_config.py, check_growable): a --config_name target is checked
against the source beyond its sizes, a refusal names the field, both values and the fix; or the
target is derived from the source's config with --target_layers / --target_hidden."""

import json
import shlex

import pytest
import torch
from tiny_world import save_model
from training_helpers import tiny_config
from transformers import AutoConfig, AutoModelForMaskedLM, BertConfig, BertTokenizerFast

from ligo.base.errors import UserError
from ligo.models.families import check_growable
from ligo.models.loading import load_config, load_model
from ligo.models.target_config import derive_config, load_target_config
from ligo.tasks import grow
from ligo.tasks.arguments import parse_args
from ligo.tasks.operator import build_operator_task

VOCAB = 120  # tokens of the tokenizer too: at least the 100 a tokenizer must hold


def vit_json(path, layers=2, hidden=64):
    config = {"model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": hidden // 32, "intermediate_size": 4 * hidden,
              "image_size": 16, "patch_size": 4, "num_channels": 3, "num_labels": 10, "layer_norm_eps": 1e-6}
    path.write_text(json.dumps(config))
    return path


def config_json(tmp_path, family, layers=2, hidden=64, name="source.json", **changes):
    """A tiny config (heads of 32) as users write them, with ``changes`` to its fields."""
    path = tmp_path / name
    if family == "vit":
        vit_json(path, layers, hidden)
    else:
        tiny_config(path, family, VOCAB, layers=layers, hidden=hidden, eos_token_id=0 if family == "gpt2" else None)
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


def config(tmp_path, family="bert", layers=2, hidden=64, **changes):
    return load_config(family, str(config_json(tmp_path, family, layers, hidden, f"{family}-{layers}-{hidden}.json",
                                               **changes)))


def source_model(tmp_path):
    """A saved tiny BERT (2L-64H, 2 heads of 32) with a tokenizer of its own, as a run saves it."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *(f"w{i}" for i in range(VOCAB - 5))]
    BertTokenizerFast(vocab={token: i for i, token in enumerate(tokens)}).save_pretrained(str(tmp_path / "tokenizer"))
    return save_model(tmp_path / "small", config_json(tmp_path, "bert"), "bert", tmp_path / "tokenizer")


def refusal(call) -> str:
    with pytest.raises(UserError) as err:
        call()
    return str(err.value)


def sentence_bert() -> BertConfig:
    """A public sentence-embedding BERT's shape and config: 6 layers, hidden 384, 12 heads of 32."""
    return BertConfig(vocab_size=VOCAB, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                      intermediate_size=1536, max_position_embeddings=512, layer_norm_eps=1e-12, pad_token_id=0,
                      position_embedding_type="absolute", gradient_checkpointing=False,
                      architectures=["BertModel"])


# ---------------------------------------------------------------- derived configs

@pytest.mark.parametrize("family", ["bert", "roberta", "gpt2", "vit"])
def test_a_derived_config_keeps_the_head_size_and_every_other_field(tmp_path, family):
    source = config(tmp_path, family, layer_norm_eps=1e-7)  # 2L-64H, 2 heads of 32, FFN 256
    target = derive_config(source, layers=4, hidden=128)
    assert (target.num_hidden_layers, target.hidden_size, target.num_attention_heads) == (4, 128, 4)
    ffn = "n_inner" if family == "gpt2" else "intermediate_size"
    sizes = {"num_hidden_layers", "hidden_size", "num_attention_heads", ffn}
    keys = {source.attribute_map.get(field, field) for field in sizes}
    assert getattr(target, ffn) == 512  # the source's FFN / hidden ratio, 4
    before, after = source.to_dict(), target.to_dict()
    differing = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    # ViT's pooler follows the hidden size (the config class recomputes it)
    assert differing == keys | ({"pooler_output_size"} if family == "vit" else set())
    if family == "vit":
        assert target.pooler_output_size == 128
    check_growable(source, target, "source", "derived", allow_mismatch=[])


def test_a_sentence_embedding_bert_grows_to_heads_of_its_size():
    source = sentence_bert()
    target = derive_config(source, layers=12, hidden=768)
    assert (target.num_hidden_layers, target.hidden_size, target.num_attention_heads) == (12, 768, 24)
    assert target.intermediate_size == 3072 and target.position_embedding_type == "absolute"
    assert target.architectures == ["BertModel"] and target.gradient_checkpointing is False
    assert derive_config(source, hidden=768, intermediate=2048).intermediate_size == 2048
    only_deeper = derive_config(source, layers=12)
    assert (only_deeper.hidden_size, only_deeper.num_attention_heads, only_deeper.intermediate_size) == (384, 12, 1536)
    check_growable(source, target, "minilm", "derived", allow_mismatch=[])


def test_a_derived_width_must_be_a_multiple_of_the_head_size():
    assert refusal(lambda: derive_config(sentence_bert(), hidden=400)) == (
        "--target_hidden 400 is not a multiple of the source's attention head size 32 (hidden_size 384 / 12 heads), "
        "and growth adds heads of that size; use 384 or 416")


# ---------------------------------------------------------------- a --config_name target is checked

def test_another_activation_is_refused_naming_the_field_both_values_and_the_fix(tmp_path):
    source, target = config(tmp_path), config(tmp_path, layers=4, hidden=128, hidden_act="relu")
    assert refusal(lambda: check_growable(source, target, "small", "large.json", allow_mismatch=[])) == (
        "cannot grow 'small' (bert 2L-64H) to 'large.json' (bert 4L-128H): the target's config differs from the "
        "source's in hidden_act (source 'gelu', target 'relu'), so the grown model would not compute what its source "
        "does; make them equal in the target config, or pass --allow_config_mismatch hidden_act if you mean it")
    check_growable(source, target, "small", "large.json", allow_mismatch=["hidden_act"])
    # the growth code's own guard checks the sizes only (an operator trained with the field allowed reloads)
    check_growable(source, target, "small", "large.json")


def test_every_differing_field_is_named_in_one_line(tmp_path):
    source = config(tmp_path, "gpt2")
    target = config(tmp_path, "gpt2", layers=4, hidden=128, activation_function="relu", layer_norm_epsilon=1e-6)
    message = refusal(lambda: check_growable(source, target, "small", "large.json", allow_mismatch=["n_ctx"]))
    assert "activation_function (source 'gelu_new', target 'relu') and layer_norm_epsilon (source 1e-05, target " \
           "1e-06)" in message and "\n" not in message
    assert message.endswith("pass --allow_config_mismatch activation_function layer_norm_epsilon if you mean it")
    assert "layer_norm_epsilon" in refusal(lambda: check_growable(source, target, "s", "t", ["activation_function"]))
    check_growable(source, target, "s", "t", ["activation_function", "layer_norm_epsilon"])


def test_sizes_dropout_and_records_are_free_to_differ(tmp_path):
    source = config(tmp_path)
    target = config(tmp_path, layers=4, hidden=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                    initializer_range=0.05, architectures=["BertModel"], intermediate_size=300,
                    tie_word_embeddings=False)
    check_growable(source, target, "small", "large.json", allow_mismatch=[])
    vit = config(tmp_path, "vit")
    check_growable(vit, config(tmp_path, "vit", layers=4, hidden=128, hidden_dropout_prob=0.1), "s", "t", [])


def test_a_field_a_config_lacks_means_its_default(tmp_path):
    # transformers 5 no longer keeps BERT's position_embedding_type; older configs write it
    absolute, relative = sentence_bert(), sentence_bert()
    relative.position_embedding_type = "relative_key"
    target = config(tmp_path, layers=12, hidden=768, vocab_size=VOCAB, num_attention_heads=24, intermediate_size=3072,
                    max_position_embeddings=512, pad_token_id=0)
    check_growable(absolute, target, "minilm", "large.json", allow_mismatch=[])
    assert "position_embedding_type (source 'relative_key', target 'absolute')" in refusal(
        lambda: check_growable(relative, target, "minilm", "large.json", allow_mismatch=[]))


def test_an_unknown_field_to_allow_is_refused(tmp_path):
    source, target = config(tmp_path), config(tmp_path, layers=4, hidden=128, hidden_act="relu")
    assert refusal(lambda: check_growable(source, target, "s", "t", ["hidden_act", "hiden_act"])) == (
        "--allow_config_mismatch hiden_act: not a field of either config; name fields of the source's or the "
        "target's config.json, e.g. hidden_act")


def test_a_head_size_mismatch_names_the_head_count_that_fits(tmp_path):
    source = sentence_bert()  # heads of 32
    base = load_config("bert", "configs/bert-12L-768H.json")  # heads of 64
    base.vocab_size, base.max_position_embeddings = VOCAB, 512
    assert refusal(lambda: check_growable(source, base, "minilm", "configs/bert-12L-768H.json", [])) == (
        "cannot grow 'minilm' (bert 6L-384H) to 'configs/bert-12L-768H.json' (bert 12L-768H): the attention head "
        "size differs (source 32: 384 / 12 heads; target 64: 768 / 12 heads) and widening adds heads of the source's "
        "size: set num_attention_heads to 24 in the target config (768 / 32), or derive the target from the source "
        "with --target_hidden 768 instead of --config_name")
    odd = BertConfig(vocab_size=VOCAB, hidden_size=400, num_hidden_layers=6, num_attention_heads=8,
                     intermediate_size=1600, max_position_embeddings=512)
    assert refusal(lambda: check_growable(source, odd, "minilm", "odd.json")) == (
        "cannot grow 'minilm' (bert 6L-384H) to 'odd.json' (bert 6L-400H): the attention head size differs (source "
        "32: 384 / 12 heads; target 50: 400 / 8 heads) and widening adds heads of the source's size, which "
        "hidden_size 400 is not a multiple of: use a target hidden_size of 384 (12 heads) or 416 (13 heads), e.g. "
        "--target_hidden 416 instead of --config_name")
    gpt2 = config(tmp_path, "gpt2", layers=4, hidden=128, n_head=2)
    assert "set n_head to 4 in the target config" in refusal(
        lambda: check_growable(config(tmp_path, "gpt2"), gpt2, "s", "t"))


# ---------------------------------------------------------------- the command lines

def grow_argv(source, output_dir, *extra, scheme="net2net"):
    return ["--model_type", "bert", "--grow_scheme", scheme, "--source_model_path", str(source),
            "--output_dir", str(output_dir), *map(str, extra)]


def grow_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        grow.main(argv)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def logits(model, ids) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(input_ids=ids).logits


def test_grow_writes_a_derived_target_that_computes_what_its_source_does(tmp_path):
    source = source_model(tmp_path)
    grow.main(grow_argv(source, tmp_path / "grown", "--target_hidden", 128))
    grown = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "grown"))
    expected = derive_config(AutoConfig.from_pretrained(str(source)), hidden=128)
    assert (grown.config.num_hidden_layers, grown.config.hidden_size, grown.config.num_attention_heads,
            grown.config.intermediate_size) == (2, 128, 4, 512)
    saved = AutoConfig.from_pretrained(str(tmp_path / "grown")).to_dict()
    records = ("_name_or_path", "dtype")  # where and how it was loaded
    assert {k: v for k, v in saved.items() if k not in records} == \
        {k: v for k, v in expected.to_dict().items() if k not in records}
    ids = torch.randint(0, VOCAB, (2, 12), generator=torch.Generator().manual_seed(0))
    small = load_model("bert", str(source))
    assert torch.allclose(logits(grown, ids), logits(small, ids), atol=1e-4)  # Net2Net: the same function

    grow.main(grow_argv(source, tmp_path / "deeper", "--target_layers", 4, "--target_hidden", 128,
                        scheme="bert2bert_fpi"))
    deeper = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "deeper"))
    assert (deeper.config.num_hidden_layers, deeper.config.num_attention_heads) == (4, 4)


def test_grow_refuses_another_activation_unless_allowed(tmp_path, capsys):
    source = source_model(tmp_path)
    target = config_json(tmp_path, "bert", hidden=128, name="relu.json", hidden_act="relu")
    argv = grow_argv(source, tmp_path / "grown", "--config_name", target)
    assert grow_error(argv, capsys) == (
        f"cannot grow '{source}' (bert 2L-64H) to '{target}' (bert 2L-128H): the target's config differs from the "
        "source's in hidden_act (source 'gelu', target 'relu'), so the grown model would not compute what its source "
        "does; make them equal in the target config, or pass --allow_config_mismatch hidden_act if you mean it")
    assert not (tmp_path / "grown").exists()
    grow.main([*argv, "--allow_config_mismatch", "hidden_act"])
    grown = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "grown"))
    ids = torch.randint(0, VOCAB, (2, 12), generator=torch.Generator().manual_seed(0))
    # what the check is for: the same weights under another activation compute another function
    assert not torch.allclose(logits(grown, ids), logits(load_model("bert", str(source)), ids), atol=1e-2)


def test_grow_takes_one_target(tmp_path, capsys):
    source = source_model(tmp_path)
    large = config_json(tmp_path, "bert", layers=4, hidden=128, name="large.json")
    assert grow_error(grow_argv(source, tmp_path / "a", "--config_name", large, "--target_hidden", 128), capsys) == (
        "--config_name and --target_hidden both give the target model; pass one: --config_name a config JSON, or the "
        "--target_* flags to derive it from --source_model_path's config")
    assert grow_error(grow_argv(source, tmp_path / "b"), capsys) == (
        "no target model: pass --config_name a config JSON (configs/*.json), or --target_layers and/or "
        "--target_hidden to derive it from --source_model_path's config")
    assert grow_error(["--model_type", "bert", "--grow_scheme", "ligo", "--pretrained_ligo_path", str(tmp_path),
                       "--target_layers", "4", "--output_dir", str(tmp_path / "c")], capsys) == (
        "--target_layers derives the target from the source model's config: pass --source_model_path too, or give "
        "the target as --config_name a config JSON")
    assert grow_error(grow_argv(source, tmp_path / "d", "--target_layers", 0), capsys) == (
        "--target_layers must be at least 1, got 0")
    assert grow_error(grow_argv(source, tmp_path / "e", "--target_hidden", 100), capsys) == (
        "--target_hidden 100 is not a multiple of the source's attention head size 32 (hidden_size 64 / 2 heads), "
        "and growth adds heads of that size; use 96 or 128")


OPERATOR = "--config configs/bert_wiki.txt --output_dir o --tune_depth --tune_width "


def test_operator_training_grows_into_the_derived_config_and_saves_it(tmp_path):
    source = source_model(tmp_path)
    args = parse_args(shlex.split(OPERATOR + f"--source_model_path {source} --target_layers 4 --target_hidden 128"))
    config = load_target_config(args, str(source))
    task = build_operator_task(args, config, None)
    (tmp_path / "checkpoint").mkdir()  # as the trainer makes it
    task.save(tmp_path / "checkpoint")
    saved = AutoConfig.from_pretrained(str(tmp_path / "checkpoint"))
    assert (saved.num_hidden_layers, saved.hidden_size, saved.num_attention_heads, saved.intermediate_size) == \
        (4, 128, 4, 512)


def test_the_training_command_line_takes_one_target(tmp_path):
    both = OPERATOR + "--config_name c.json --source_model_path s --target_hidden 128 --target_intermediate 512"
    assert refusal(lambda: parse_args(shlex.split(both))) == (
        "--config_name and --target_hidden --target_intermediate both give the target model; pass one: --config_name "
        "a config JSON, or the --target_* flags to derive it from --source_model_path's config")
    args = parse_args(shlex.split(OPERATOR + "--config_name c.json --allow_config_mismatch hidden_act "
                                             "--allow_config_mismatch layer_norm_eps pad_token_id"))
    assert args.allow_config_mismatch == ["hidden_act", "layer_norm_eps", "pad_token_id"]
    assert parse_args(shlex.split(OPERATOR + "--config_name c.json")).allow_config_mismatch == []
