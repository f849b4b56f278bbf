"""The analytical FLOPs counter (ligo/models/flops.py): by hand on a tiny config, and against
torch's FlopCounterMode on a real forward + backward of BERT and RoBERTa masked LMs."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel, RobertaConfig, RobertaForMaskedLM

from ligo.models.families import flops_breakdown, forward_flops, matmul_forward_flops, train_flops
from ligo.models.flops import BACKWARD_TO_FORWARD

TINY = BertConfig(hidden_size=4, intermediate_size=8, num_hidden_layers=1, num_attention_heads=1, vocab_size=10)
BATCH, SEQ = 4, 128
SMALL = dict(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=512, max_position_embeddings=SEQ + 2)


def test_tiny_config_by_hand():
    # h=4, i=8, layers=1, heads=1, vocab=10, s=3; the constants written out on purpose,
    # so that a changed constant in ligo/models/flops.py is caught.
    h, i, v, s, heads = 4, 8, 10, 3, 1
    block = (3 * 2 * h * h + 3 * h                   # Q, K, V and their biases
             + 2 * h * s + 5 * s * heads             # scores, softmax
             + 4 * s * heads + s * heads             # attention dropout, scaling
             + 2 * h * s                             # weighted values
             + 2 * h * h + h + 4 * h + h + 5 * h     # attn-out dense, bias, dropout, residual, LayerNorm
             + 2 * h * i + 8 * i + i                 # FFN in, GELU, bias
             + 2 * h * i + h + 4 * h + h + 5 * h)    # FFN out, bias, dropout, residual, LayerNorm
    embeddings = 2 * h * v + 2 * h * (s + 2) + 2 * h + 5 * h + 4 * h
    head = 2 * h * h + h + 8 * h + 5 * h + 2 * h * v + v + 5 * v + 2 * v
    assert (block, embeddings, head) == (506, 164, 248)
    assert forward_flops(TINY, s) == s * (block + embeddings + head) == 2754
    assert forward_flops(TINY, s, head_fraction=0.5) == 2754 - 744 // 2
    matmuls = 3 * 2 * h * h + 2 * h * s + 2 * h * s + 2 * h * h + 2 * h * i + 2 * h * i + 2 * h * h + 2 * h * v
    assert matmul_forward_flops(TINY, s) == s * matmuls == 1248


@pytest.mark.parametrize("config", [TINY, BertConfig(), RobertaConfig(**SMALL)],
                         ids=["tiny", "bert-base", "roberta-small"])
@pytest.mark.parametrize("head_fraction", [1.0, 0.15625])
def test_train_is_three_forwards_in_exact_ints(config, head_fraction):
    breakdown = flops_breakdown(config, 128, head_fraction)
    assert all(type(n) is int for n in breakdown.values())
    assert forward_flops(config, 128, head_fraction) == sum(breakdown.values())
    assert train_flops(config, 128, head_fraction) == 3 * forward_flops(config, 128, head_fraction)


def _counted_train_step(model_class, config_class) -> FlopCounterMode:
    torch.manual_seed(0)
    # Eager attention runs the scores and the weighted values as plain bmm, which
    # FlopCounterMode counts; a fused SDPA kernel is counted only if its op is registered
    # with the counter, so eager keeps the attention accounting explicit.
    model = model_class(config_class(**SMALL, attn_implementation="eager")).train()
    ids = torch.randint(5, SMALL["vocab_size"], (BATCH, SEQ))  # no pad/special ids
    labels = torch.where(torch.rand(ids.shape) < 0.15, ids, -100)
    counter = FlopCounterMode(display=False)
    with counter:
        model(input_ids=ids, labels=labels).loss.backward()
    return counter


@pytest.mark.parametrize("model_class, config_class",
                         [(BertForMaskedLM, BertConfig), (RobertaForMaskedLM, RobertaConfig)], ids=["bert", "roberta"])
def test_matmuls_agree_with_flop_counter(model_class, config_class):
    counter = _counted_train_step(model_class, config_class)
    config = config_class(**SMALL)
    ours = (1 + BACKWARD_TO_FORWARD) * matmul_forward_flops(config, SEQ) * BATCH
    counted = counter.get_total_flops()
    assert abs(counted - ours) / ours < 0.05, (counted, ours)
    # bmm is the attention alone (scores and weighted values); mm/addmm the dense layers.
    terms = flops_breakdown(config, SEQ)
    attention = terms["blocks.attention_scores"] + terms["blocks.attention_weighted_values"]
    ours_bmm = (1 + BACKWARD_TO_FORWARD) * attention * BATCH
    counted_bmm = counter.get_flop_counts()["Global"][torch.ops.aten.bmm]
    assert abs(counted_bmm - ours_bmm) / ours_bmm < 0.05, (counted_bmm, ours_bmm)


def test_gpt2_tiny_config_by_hand():
    # h=4, i=8, layers=1, heads=1, vocab=10, s=3 (ligo/models/gpt2_flops.py), constants written out.
    h, i, v, s, heads = 4, 8, 10, 3, 1
    block = (5 * h                                   # ln_1
             + 3 * 2 * h * h + 3 * h                 # c_attn (Q, K, V) and its bias
             + 2 * h * s + s * heads + s * heads     # scores, scaling, causal mask
             + 5 * s * heads + 4 * s * heads         # softmax, attention dropout
             + 2 * h * s                             # weighted values
             + 2 * h * h + h + 4 * h + h             # c_proj, bias, dropout, residual
             + 5 * h                                 # ln_2
             + 2 * h * i + i + 8 * i                 # c_fc, bias, gelu_new
             + 2 * h * i + h + 4 * h + h)            # mlp c_proj, bias, dropout, residual
    embeddings = 2 * h * v + 2 * h * s + h + 4 * h
    head = 5 * h + 2 * h * v + 5 * v + 2 * v
    assert (block, embeddings, head) == (509, 124, 170)
    config = GPT2Config(n_embd=h, n_inner=i, n_layer=1, n_head=heads, vocab_size=v, n_positions=8)
    assert forward_flops(config, s) == s * (block + embeddings + head) == 2409
    matmuls = 3 * 2 * h * h + 2 * h * s + 2 * h * s + 2 * h * h + 2 * h * i + 2 * h * i + 2 * h * v
    assert matmul_forward_flops(config, s) == s * matmuls == 1152
    # n_inner None is GPT-2's 4 x hidden
    assert forward_flops(GPT2Config(n_embd=h, n_layer=1, n_head=1, vocab_size=v), s) == \
        forward_flops(GPT2Config(n_embd=h, n_inner=4 * h, n_layer=1, n_head=1, vocab_size=v), s)


def test_gpt2_matmuls_equal_the_flop_counter_exactly():
    torch.manual_seed(0)
    config = GPT2Config(n_embd=128, n_inner=512, n_layer=2, n_head=4, vocab_size=1000, n_positions=SEQ,
                        bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    model = GPT2LMHeadModel(config).train()
    ids = torch.randint(0, 1000, (BATCH, SEQ))
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    # Conv1D runs addmm, attention matmul/bmm, the decoder a matmul: every one counted, forward and
    # backward (the word-embedding lookup is no matmul in torch, so no input gradient is missed).
    assert counter.get_total_flops() == (1 + BACKWARD_TO_FORWARD) * matmul_forward_flops(config, SEQ) * BATCH
    assert train_flops(config, SEQ) == 3 * forward_flops(config, SEQ)
