"""The Llama family (ligo/models/llama.py) on tiny real LlamaForCausalLMs: what its configs may be,
and growth of grouped-query attention by whole heads."""

import json

import pytest
import torch
from transformers import LlamaConfig

from ligo.base.errors import UserError
from ligo.growth.baselines import grow_baseline
from ligo.growth.grown_model import materialize
from ligo.models.families import check_growable
from ligo.models.loading import load_config, new_model

VOCAB = 100
BATCH = torch.randint(0, VOCAB, (2, 12), generator=torch.Generator().manual_seed(0))


def config(layers=2, heads=4, kv_heads=2, head_dim=16, hidden=64, ffn=96, **extra) -> LlamaConfig:
    return LlamaConfig(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                       num_key_value_heads=kv_heads, head_dim=head_dim, intermediate_size=ffn, vocab_size=VOCAB,
                       max_position_embeddings=32, **extra)


def logits(model, ids=BATCH):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("field", ["attention_bias", "mlp_bias"])
def test_a_config_with_biases_is_refused_in_one_line_as_it_loads(tmp_path, field):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config().to_dict(), field: True}))
    with pytest.raises(UserError, match=f"{field} true is not supported") as err:
        load_config("llama", str(path))
    assert "\n" not in str(err.value)
    path.write_text(json.dumps(config().to_dict()))
    assert load_config("llama", str(path)).num_key_value_heads == 2


def test_query_heads_that_key_value_heads_do_not_group_are_refused():
    with pytest.raises(UserError, match="num_attention_heads 6 is not a multiple of num_key_value_heads 4"):
        check_growable(config(), config(heads=6, kv_heads=4, hidden=96), "small", "large")


def test_a_head_size_change_is_refused_in_one_line():
    with pytest.raises(UserError, match=r"head size differs \(source 16, target 32\).*set head_dim to 16") as err:
        check_growable(config(), config(head_dim=32), "small", "large")
    assert "\n" not in str(err.value)


def test_fewer_key_value_heads_are_refused():
    with pytest.raises(UserError, match="fewer key/value heads"):
        check_growable(config(heads=4, kv_heads=4), config(heads=8, kv_heads=2, hidden=128), "small", "large")


def test_stackbert_puts_small_layer_i_at_large_layers_i_and_i_plus_l():
    small_config, large_config = config(), config(layers=4)
    small = new_model("llama", small_config, seed=0)
    grown = grow_baseline("stackbert", small.state_dict(), small_config, large_config, seed=0)
    state = small.state_dict()
    for j in range(4):
        for name in ("self_attn.k_proj.weight", "mlp.gate_proj.weight", "post_attention_layernorm.weight"):
            assert torch.equal(grown[f"model.layers.{j}.{name}"], state[f"model.layers.{j % 2}.{name}"])
    assert torch.isfinite(logits(materialize(grown, large_config, seed=0))).all()
