"""GPT-2's forward FLOPs per sequence, in ELECTRA's conventions as BERT's (ligo/models/bert.py,
ligo/models/flops.py), with the same term names where the operation is the same, so that the
family-agnostic sums (ligo/models/families.py) and MSLT's accounting read both families alike.

Where GPT-2 differs from BERT:
  * pre-LayerNorm blocks: ``ln_1`` before attention and ``ln_2`` before the MLP (``5 * h`` per
    token each, as BERT's LayerNorms); the final ``ln_f`` is counted under ``head.*``, the
    output side, with the decoder;
  * ``c_attn`` is query, key and value in one matmul of ``3 * h`` outputs: the ``kqv`` term;
  * the causal mask is applied to the attention scores before the softmax: one operation per
    score (``attention_mask``), as the scaling;
  * the activation is ``gelu_new`` (``ACTIVATION_FLOPS`` per element, as ELECTRA's GELU);
  * the embeddings are the word table (a dense one-hot: ``2 * h * vocab``) and the position
    table (``2 * h * seq_len``, a one-hot over the positions), their sum (``h``) and dropout;
    no token types, no embedding LayerNorm;
  * the head is ``ln_f`` and the tied decoder ``lm_head`` (no bias, no transform), its softmax
    and the target term as BERT's head (``head_fraction``: 1.0, every position).
"""

from transformers import PretrainedConfig

from ligo.models.flops import (
    BLOCK_MATMUL_TERMS,
    DROPOUT_FLOPS,
    LAYER_NORM_FLOPS,
    block_per_token,
    check_arguments,
    decoder_head_per_token,
)

# The terms torch runs as matmuls (addmm for Conv1D, bmm/matmul in attention, the decoder).
MATMUL_TERMS = (*BLOCK_MATMUL_TERMS, "head.decoder")


def ffn_size(config: PretrainedConfig) -> int:
    return config.n_inner if config.n_inner is not None else 4 * config.hidden_size  # GPT-2's default


def _embeddings_per_token(h: int, v: int, s: int) -> dict[str, int]:
    return {
        "word": 2 * h * v,
        "position": 2 * h * s,
        "add_position": h,
        "dropout": DROPOUT_FLOPS * h,
    }


def flops_breakdown(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> dict[str, int]:
    """Forward FLOPs of one sequence, per term: ``embeddings.*``, ``blocks.*`` (all layers summed)
    and ``head.*`` (on ``head_fraction`` of the positions, rounded to an int)."""
    check_arguments(seq_len, head_fraction)
    h, v = config.hidden_size, config.vocab_size
    block = block_per_token(h, ffn_size(config), config.num_attention_heads, seq_len, pre_ln=True, causal_mask=True)
    terms = {f"embeddings.{k}": n * seq_len for k, n in _embeddings_per_token(h, v, seq_len).items()}
    terms.update({f"blocks.{k}": n * seq_len * config.num_hidden_layers for k, n in block.items()})
    head = decoder_head_per_token(h, v, LAYER_NORM_FLOPS)
    terms.update({f"head.{k}": round(n * seq_len * head_fraction) for k, n in head.items()})
    return terms
