"""Analytical training FLOPs of BERT/RoBERTa masked-LM pre-training, counted the way the
paper does: ELECTRA's ``flops_computation.py`` (which the LiGO authors also ship).

A ``[tokens x in] @ [in x out]`` matmul counts ``2 * tokens * in * out``; elementwise ops
count the small ELECTRA constants below per element. Everything is per sequence of
``seq_len`` tokens, from any BERT/RoBERTa ``PretrainedConfig`` (hidden_size,
num_hidden_layers, num_attention_heads, intermediate_size, vocab_size).

Two departures from ELECTRA, both on purpose:
  * the attention-output LayerNorm counts ``5 * h`` per token (ELECTRA's typo counts 5);
  * the MLM head is counted on ``head_fraction`` of the positions, 1.0 by default, since
    Hugging Face's ``BertForMaskedLM``/``RobertaForMaskedLM`` run the head's dense layer and
    decoder on every position (ELECTRA used 0.15625, the masked positions only).

As in ELECTRA, embedding lookups are counted as dense one-hot multiplies: the word
embedding as ``2 * h * vocab`` per token, position and token type together as
``2 * h * (seq_len + 2)`` (a one-hot over the positions and over 2 token types) plus
``2 * h`` to add the three. RoBERTa's position-id arithmetic is not counted.
"""

from transformers import PretrainedConfig

# random number, >=, multiply by the mask, multiply by 1 / (1 - rate)
DROPOUT_FLOPS = 4
# mean (sum), variance (square and sum), bias (add), scale (multiply)
LAYER_NORM_FLOPS = 5
# GELU: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
ACTIVATION_FLOPS = 8
# max/subtract (for stability), exp, sum, divide
SOFTMAX_FLOPS = 5
# Backward = gradients w.r.t. inputs + w.r.t. weights, each about one forward. ELECTRA
# assumed 1; savings ratios between runs hardly depend on it.
BACKWARD_TO_FORWARD = 2

# The terms torch really runs as matmuls (mm/addmm/bmm), as FlopCounterMode sees them.
MATMUL_TERMS = (
    "blocks.kqv",
    "blocks.attention_scores",
    "blocks.attention_weighted_values",
    "blocks.attn_output",
    "blocks.intermediate",
    "blocks.output",
    "head.dense",
    "head.decoder",
)


def _block_per_token(h: int, i: int, heads: int, s: int) -> dict[str, int]:
    """Forward FLOPs of one transformer block, per token."""
    return {
        "kqv": 3 * 2 * h * h,
        "kqv_bias": 3 * h,
        "attention_scores": 2 * h * s,
        "attn_softmax": SOFTMAX_FLOPS * s * heads,
        "attention_dropout": DROPOUT_FLOPS * s * heads,
        "attention_scale": s * heads,
        "attention_weighted_values": 2 * h * s,
        "attn_output": 2 * h * h,
        "attn_output_bias": h,
        "attn_output_dropout": DROPOUT_FLOPS * h,
        "attn_output_residual": h,
        "attn_output_layer_norm": LAYER_NORM_FLOPS * h,
        "intermediate": 2 * h * i,
        "intermediate_act": ACTIVATION_FLOPS * i,
        "intermediate_bias": i,
        "output": 2 * h * i,
        "output_bias": h,
        "output_dropout": DROPOUT_FLOPS * h,
        "output_residual": h,
        "output_layer_norm": LAYER_NORM_FLOPS * h,
    }


def _embeddings_per_token(h: int, v: int, s: int) -> dict[str, int]:
    """Forward FLOPs of the input embeddings, per token (dense one-hot lookups)."""
    return {
        "word": 2 * h * v,
        "position_and_type": 2 * h * (s + 2),
        "add_position_and_type": 2 * h,
        "layer_norm": LAYER_NORM_FLOPS * h,
        "dropout": DROPOUT_FLOPS * h,
    }


def _head_per_token(h: int, v: int) -> dict[str, int]:
    """Forward FLOPs of the MLM head, per position that goes through it."""
    return {
        "dense": 2 * h * h,
        "dense_bias": h,
        "act": ACTIVATION_FLOPS * h,
        "layer_norm": LAYER_NORM_FLOPS * h,
        "decoder": 2 * h * v,
        "decoder_bias": v,
        "softmax": SOFTMAX_FLOPS * v,
        "target": 2 * v,
    }


def flops_breakdown(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> dict[str, int]:
    """Forward FLOPs of one sequence, per term: ``embeddings.*``, ``blocks.*`` (all layers
    summed) and ``head.*`` (on ``head_fraction`` of the positions, rounded to an int)."""
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    if not 0.0 <= head_fraction <= 1.0:
        raise ValueError(f"head_fraction must be in [0, 1], got {head_fraction}")
    h, v = config.hidden_size, config.vocab_size
    block = _block_per_token(h, config.intermediate_size, config.num_attention_heads, seq_len)
    terms = {f"embeddings.{k}": n * seq_len for k, n in _embeddings_per_token(h, v, seq_len).items()}
    terms.update({f"blocks.{k}": n * seq_len * config.num_hidden_layers for k, n in block.items()})
    terms.update({f"head.{k}": round(n * seq_len * head_fraction) for k, n in _head_per_token(h, v).items()})
    return terms


def forward_flops(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> int:
    """Forward FLOPs of one sequence."""
    return sum(flops_breakdown(config, seq_len, head_fraction).values())


def train_flops(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> int:
    """Training FLOPs (forward + backward) of one sequence."""
    return (1 + BACKWARD_TO_FORWARD) * forward_flops(config, seq_len, head_fraction)


def matmul_forward_flops(config: PretrainedConfig, seq_len: int) -> int:
    """Forward FLOPs of one sequence in the terms torch runs as matmuls, with the head on
    every position as Hugging Face runs it: what ``FlopCounterMode`` can check."""
    terms = flops_breakdown(config, seq_len)
    return sum(terms[name] for name in MATMUL_TERMS)
