"""``python -m ligo.grow --model_type llama`` (in-process): a LiGO operator trained one step on a
Llama pair with uneven grouped-query head counts (9 query heads in 3 key/value groups -> 15 in 5,
head_dim 8), and Net2Net through the command, both loading back with AutoModelForCausalLM."""

import json

import pytest
import torch
from glue_fixtures import corpus_lines
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from ligo.growth.grown_model import GrownModel
from ligo.growth.operator import LiGOOperator, LiGOOptions
from ligo.models.loading import load_config, new_model
from ligo.tasks.grow import main as grow
from ligo.training.checkpoint import STATE_FILE, checkpoint_dir
from tokenization.train_tokenizer import train_tokenizer


def llama_config(path, vocab, layers, heads, kv_heads, hidden, ffn):
    path.write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": layers,
        "hidden_size": hidden, "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": 8,
        "intermediate_size": ffn, "vocab_size": vocab, "max_position_embeddings": 64, "bos_token_id": 1,
        "eos_token_id": 2, "tie_word_embeddings": False}))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("llama")
    (root / "train.raw").write_text("\n".join(corpus_lines()) + "\n")
    tokenizer = train_tokenizer("llama", [root / "train.raw"], 400)
    tokenizer.save_pretrained(str(root / "tokenizer"))
    small = llama_config(root / "small.json", len(tokenizer), 2, 9, 3, 45, 64)
    small_model = new_model("llama", load_config("llama", str(small)), seed=0)
    small_model.save_pretrained(str(root / "small"))
    tokenizer.save_pretrained(str(root / "small"))
    batch = tokenizer(corpus_lines()[:4], return_tensors="pt", padding=False, truncation=True, max_length=8)
    return root, tokenizer, small_model, torch.stack([row[:5] for row in batch["input_ids"]])


def logits(model, ids):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_a_ligo_operator_trained_one_step_on_uneven_grouped_heads_grows_a_causal_lm(world):
    root, tokenizer, small_model, ids = world
    large_file = llama_config(root / "large.json", len(tokenizer), 3, 15, 5, 90, 128)
    small_config, large_config = small_model.config, load_config("llama", str(large_file))
    operator = LiGOOperator(small_model.state_dict(), small_config, large_config, LiGOOptions(), seed=0)
    before = {name: block.detach().clone() for name, block in operator.width.items()}
    optimizer = torch.optim.Adam([p for p in operator.parameters() if p.requires_grad], lr=1e-2)
    GrownModel(operator, large_config)(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    assert all(not torch.equal(before[name], block) for name, block in operator.width.items())
    # The checkpoint as run_grow_distributed.py writes it.
    folder = checkpoint_dir(root / "ligo", 1)
    folder.mkdir(parents=True)
    operator.save(folder)
    large_config.save_pretrained(str(folder))
    (folder / STATE_FILE).write_text(json.dumps({"step": 1}))  # last: marks the checkpoint complete

    grow(["--model_type", "llama", "--config_name", str(large_file), "--grow_scheme", "ligo",
          "--pretrained_ligo_path", str(root / "ligo"), "--tokenizer_name", str(root / "tokenizer"),
          "--output_dir", str(root / "grown-ligo")])
    model = AutoModelForCausalLM.from_pretrained(str(root / "grown-ligo"))
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (model.config.num_attention_heads, model.config.num_key_value_heads, model.config.head_dim) == (15, 5, 8)
    saved = load_file(str(root / "grown-ligo" / "model.safetensors"))
    with torch.no_grad():
        grown = operator()
    assert sorted(saved) == sorted(grown) and all(torch.equal(saved[name], grown[name]) for name in grown)
    assert torch.isfinite(logits(model, ids)).all()


def test_net2net_through_the_command_keeps_the_small_models_logits(world):
    root, tokenizer, small_model, ids = world
    wide = llama_config(root / "wide.json", len(tokenizer), 2, 15, 5, 90, 128)
    grow(["--model_type", "llama", "--config_name", str(wide), "--grow_scheme", "net2net", "--source_model_path",
          str(root / "small"), "--output_dir", str(root / "grown-net2net")])
    model = AutoModelForCausalLM.from_pretrained(str(root / "grown-net2net"))
    assert (logits(model, ids) - logits(small_model, ids)).abs().max().item() < 1e-5
