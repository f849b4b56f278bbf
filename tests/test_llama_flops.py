"""The analytical FLOPs of a Llama-style decoder (ligo/models/llama_flops.py) against torch's
FlopCounterMode on a real LlamaForCausalLM forward: equal, with and without grouped-query
attention, biases and tied embeddings; and by hand on a tiny config."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import LlamaConfig, LlamaForCausalLM

from ligo.models.llama_flops import flops_breakdown, matmul_flops

BATCH, SEQ = 2, 64


@pytest.mark.parametrize("options", [dict(num_key_value_heads=4), dict(num_key_value_heads=2),
                                     dict(num_key_value_heads=1, tie_word_embeddings=True),
                                     dict(num_key_value_heads=2, attention_bias=True, mlp_bias=True),
                                     dict(num_key_value_heads=2, head_dim=48)],
                         ids=["mha", "gqa", "mqa-tied", "biases", "head-dim"])
def test_matmuls_equal_flop_counter(options):
    torch.manual_seed(0)
    # Eager attention: the scores and weighted values are plain matmuls the counter sees.
    config = LlamaConfig(vocab_size=500, hidden_size=128, intermediate_size=352, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=SEQ, attn_implementation="eager", **options)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        LlamaForCausalLM(config)(input_ids=torch.randint(0, 500, (BATCH, SEQ)))
    assert counter.get_total_flops() == BATCH * matmul_flops(config, SEQ)


def test_tiny_config_by_hand():
    # h=8, 2 heads of 4, 1 key/value head, i=16, one layer, vocab 10, s=3: the terms written out.
    config = LlamaConfig(vocab_size=10, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)
    terms = flops_breakdown(config, 3)
    assert terms["blocks.kqv"] == 3 * 2 * 8 * (8 + 2 * 4)
    assert terms["blocks.attention_scores"] == 3 * 2 * 8 * 3
    assert terms["blocks.intermediate"] == 3 * 2 * 2 * 8 * 16 and terms["blocks.output"] == 3 * 2 * 16 * 8
    assert terms["blocks.rotary"] == 3 * 3 * (8 + 4) and terms["blocks.attn_layer_norm"] == 3 * 4 * 8
    assert terms["blocks.kqv_bias"] == 0 and terms["blocks.attention_dropout"] == 0
    assert terms["head.decoder"] == 3 * 2 * 8 * 10 and terms["embeddings.word"] == 3 * 2 * 8 * 10
