"""Training FLOPs counted the way the paper does: ELECTRA's ``flops_computation.py`` (which
the LiGO authors also ship). Each family file gives its forward breakdown from these
conventions (ligo/models/bert.py); ``ligo.models.families`` turns it into training FLOPs.

A ``[tokens x in] @ [in x out]`` matmul counts ``2 * tokens * in * out``; elementwise ops
count the small ELECTRA constants below per element.
"""

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


def check_arguments(seq_len: int, head_fraction: float):
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    if not 0.0 <= head_fraction <= 1.0:
        raise ValueError(f"head_fraction must be in [0, 1], got {head_fraction}")


# The transformer block's terms torch runs as matmuls (mm/addmm/bmm), as FlopCounterMode sees
# them; a family adds its head's (BERT's transform and decoder, GPT-2's decoder).
BLOCK_MATMUL_TERMS = (
    "blocks.kqv",
    "blocks.attention_scores",
    "blocks.attention_weighted_values",
    "blocks.attn_output",
    "blocks.intermediate",
    "blocks.output",
)


def block_per_token(h: int, i: int, heads: int, s: int, pre_ln: bool, qkv_bias: bool = True,
                    causal_mask: bool = False) -> dict[str, int]:
    """Forward FLOPs of one transformer block, per token: BERT's post-LayerNorm block (``pre_ln``
    False: a LayerNorm after attention's residual and one after the MLP's), or GPT-2's and ViT's
    pre-LayerNorm one (before attention, before the MLP). The same count either way; the names
    say where the LayerNorms are. ``causal_mask``: one operation per attention score to mask it
    (GPT-2); without ``qkv_bias``, no query/key/value bias (a ViT option)."""
    attn_norm, ffn_norm = ("attn_layer_norm", "ffn_layer_norm") if pre_ln else \
        ("attn_output_layer_norm", "output_layer_norm")
    terms = {
        "kqv": 3 * 2 * h * h,
        "kqv_bias": 3 * h if qkv_bias else 0,
        "attention_scores": 2 * h * s,
        "attention_scale": s * heads,
        "attn_softmax": SOFTMAX_FLOPS * s * heads,
        "attention_dropout": DROPOUT_FLOPS * s * heads,
        "attention_weighted_values": 2 * h * s,
        "attn_output": 2 * h * h,
        "attn_output_bias": h,
        "attn_output_dropout": DROPOUT_FLOPS * h,
        "attn_output_residual": h,
        attn_norm: LAYER_NORM_FLOPS * h,
        "intermediate": 2 * h * i,
        "intermediate_bias": i,
        "intermediate_act": ACTIVATION_FLOPS * i,
        "output": 2 * h * i,
        "output_bias": h,
        "output_dropout": DROPOUT_FLOPS * h,
        "output_residual": h,
        ffn_norm: LAYER_NORM_FLOPS * h,
    }
    if causal_mask:
        terms["attention_mask"] = s * heads
    return terms


def decoder_head_per_token(h: int, v: int, norm_flops: int) -> dict[str, int]:
    """A causal LM's head, per position: its final norm (``norm_flops`` an element), the decoder
    (no bias, no transform), the softmax and the target term, as BERT's head counts them."""
    return {
        "layer_norm": norm_flops * h,
        "decoder": 2 * h * v,
        "softmax": SOFTMAX_FLOPS * v,
        "target": 2 * v,
    }
