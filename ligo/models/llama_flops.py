"""A Llama-style decoder's forward FLOPs per sequence (Hugging Face's ``LlamaForCausalLM``: Llama,
Mistral, SmolLM, TinyLlama), in ELECTRA's conventions as BERT's and GPT-2's (ligo/models/flops.py),
with the same term names where the operation is the same.

Where a Llama block differs from GPT-2's:
  * RMSNorm before attention and before the MLP, and a final one before the decoder (square,
    mean, reciprocal square root, scale: ``RMS_NORM_FLOPS`` per element; no bias);
  * grouped-query attention: the query projection has ``h`` outputs, key and value
    ``num_key_value_heads * head_dim`` each (``kqv``); every query head attends over its group's
    keys, so the scores and the weighted values cost what GPT-2's do (``2 * h * s`` each);
  * rotary position embeddings on queries and keys: two multiplies and an add per element
    (``ROTARY_FLOPS``), no position table;
  * the SwiGLU MLP: gate and up projections (``intermediate``: two matmuls of ``h x i``), SiLU on
    the gate (``intermediate_act``), their product (``gate_multiply``) and the down projection
    (``output``);
  * no biases unless ``attention_bias`` / ``mlp_bias``, and no dropout unless ``attention_dropout``;
  * the decoder is ``lm_head`` (tied or untied, the same count), no bias, no transform.
"""

from transformers import PretrainedConfig

from ligo.models.flops import BLOCK_MATMUL_TERMS, DROPOUT_FLOPS, SOFTMAX_FLOPS, check_arguments, decoder_head_per_token

RMS_NORM_FLOPS = 4  # square, mean (sum), reciprocal square root and scale
SILU_FLOPS = 4  # x * sigmoid(x): negate, exp, add 1 and divide
ROTARY_FLOPS = 3  # x * cos + rotate_half(x) * sin

# The terms torch runs as matmuls (mm in the projections, bmm/matmul in attention, the decoder).
MATMUL_TERMS = (*BLOCK_MATMUL_TERMS, "head.decoder")


def head_dim(config: PretrainedConfig) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def key_value_width(config: PretrainedConfig) -> int:
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    return heads * head_dim(config)


def block_per_token(config: PretrainedConfig, s: int) -> dict[str, int]:
    h, i, heads = config.hidden_size, config.intermediate_size, config.num_attention_heads
    q, kv = heads * head_dim(config), key_value_width(config)
    attention_bias, mlp_bias = bool(getattr(config, "attention_bias", False)), bool(getattr(config, "mlp_bias", False))
    dropout = DROPOUT_FLOPS * s * heads if getattr(config, "attention_dropout", 0.0) else 0
    return {
        "attn_layer_norm": RMS_NORM_FLOPS * h,
        "kqv": 2 * h * (q + 2 * kv),
        "kqv_bias": (q + 2 * kv) if attention_bias else 0,
        "rotary": ROTARY_FLOPS * (q + kv),
        "attention_scores": 2 * q * s,
        "attention_scale": s * heads,
        "attention_mask": s * heads,
        "attn_softmax": SOFTMAX_FLOPS * s * heads,
        "attention_dropout": dropout,
        "attention_weighted_values": 2 * q * s,
        "attn_output": 2 * q * h,
        "attn_output_bias": h if attention_bias else 0,
        "attn_output_residual": h,
        "ffn_layer_norm": RMS_NORM_FLOPS * h,
        "intermediate": 2 * 2 * h * i,
        "intermediate_bias": 2 * i if mlp_bias else 0,
        "intermediate_act": SILU_FLOPS * i,
        "gate_multiply": i,
        "output": 2 * i * h,
        "output_bias": h if mlp_bias else 0,
        "output_residual": h,
    }


def flops_breakdown(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> dict[str, int]:
    """Forward FLOPs of one sequence, per term: ``embeddings.*``, ``blocks.*`` (all layers summed)
    and ``head.*`` (on ``head_fraction`` of the positions, rounded to an int)."""
    check_arguments(seq_len, head_fraction)
    h, v = config.hidden_size, config.vocab_size
    terms = {"embeddings.word": 2 * h * v * seq_len}  # a dense one-hot, as ELECTRA counts a lookup
    terms.update({f"blocks.{k}": n * seq_len * config.num_hidden_layers
                  for k, n in block_per_token(config, seq_len).items()})
    head = decoder_head_per_token(h, v, RMS_NORM_FLOPS)
    terms.update({f"head.{k}": round(n * seq_len * head_fraction) for k, n in head.items()})
    return terms


def matmul_flops(config: PretrainedConfig, seq_len: int) -> int:
    """What torch runs as matmuls in a forward of one sequence (FlopCounterMode's count)."""
    terms = flops_breakdown(config, seq_len)
    return sum(terms[name] for name in MATMUL_TERMS)
