"""ViT's (and DeiT's) forward FLOPs per image: Hugging Face's unmodified
``ViTForImageClassification``, in ELECTRA's conventions as BERT's and GPT-2's
(ligo/models/bert.py, ligo/models/gpt2_flops.py, ligo/models/flops.py).

Where ViT differs from BERT:
  * the sequence is fixed by the image: one token per ``patch_size`` x ``patch_size`` patch plus
    the CLS token (``sequence_length``); any other ``seq_len`` is refused;
  * the embeddings are the patch projection, a convolution with kernel = stride = patch size,
    i.e. a ``[patches x (channels * patch^2)] @ [(channels * patch^2) x h]`` matmul and its
    bias, per patch (``seq_len - 1`` positions); prepending the CLS token is a copy, not
    counted; the position embeddings are a learned table added as is (no lookup, unlike
    BERT's one-hot): ``h`` per token, then dropout; no embedding LayerNorm;
  * pre-LayerNorm blocks as GPT-2's, under GPT-2's names: ``layernorm_before`` is
    ``attn_layer_norm``, ``layernorm_after`` is ``ffn_layer_norm`` (``5 * h`` per token each);
    no attention mask; the same matmuls as BERT (separate query, key and value, counted
    together as ``kqv``), GELU;
  * the head is the final ``vit.layernorm``, which Hugging Face runs on every token, then the
    classifier and a softmax over the labels on the CLS token alone: ``head_fraction`` must
    be 1.0 (it means nothing here, but the interface is shared with the language models).
"""

from collections.abc import Iterable

from transformers import PretrainedConfig

from ligo.models.flops import (
    BLOCK_MATMUL_TERMS,
    DROPOUT_FLOPS,
    LAYER_NORM_FLOPS,
    SOFTMAX_FLOPS,
    block_per_token,
    check_arguments,
)

# The terms torch runs as matmuls or convolutions, as FlopCounterMode counts them: the patch
# projection is aten.convolution, the dense layers and the classifier aten.addmm, the attention
# aten.bmm with eager attention (the matmuls of eager_attention_forward). Under SDPA the
# attention is one fused kernel: on GPU (_scaled_dot_product_{flash,efficient,cudnn}_attention)
# FlopCounterMode counts it as the same two bmm; on CPU (torch 2.14) it runs
# _scaled_dot_product_flash_attention_for_cpu, which has no flop formula and counts 0.
MATMUL_TERMS = ("embeddings.patch_projection", *BLOCK_MATMUL_TERMS, "head.classifier")


def _pair(size) -> tuple[int, int]:
    """An image or patch size as (height, width); Hugging Face accepts an int or a pair."""
    return tuple(size) if isinstance(size, Iterable) else (size, size)


def sequence_length(config: PretrainedConfig) -> int:
    """Tokens per image: one per patch (as ViTPatchEmbeddings counts them), plus the CLS token."""
    (image_h, image_w), (patch_h, patch_w) = _pair(config.image_size), _pair(config.patch_size)
    return (image_h // patch_h) * (image_w // patch_w) + 1


def flops_breakdown(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> dict[str, int]:
    """Forward FLOPs of one image, per term: ``embeddings.*``, ``blocks.*`` (all layers summed)
    and ``head.*``. ``seq_len`` must be the image's (``sequence_length``), ``head_fraction`` 1.0."""
    check_arguments(seq_len, head_fraction)
    if head_fraction != 1.0:
        raise ValueError(f"head_fraction must be 1.0 for ViT, got {head_fraction}: the classifier reads the CLS "
                         "token alone, on every image")
    expected = sequence_length(config)
    if seq_len != expected:
        raise ValueError(f"seq_len {seq_len} is not this ViT's sequence length {expected} (patches of "
                         f"{config.patch_size} in a {config.image_size} image, plus CLS): the image fixes it")
    h, labels, patches = config.hidden_size, config.num_labels, seq_len - 1
    patch_h, patch_w = _pair(config.patch_size)
    block = block_per_token(h, config.intermediate_size, config.num_attention_heads, seq_len, pre_ln=True,
                            qkv_bias=getattr(config, "qkv_bias", True))
    terms = {
        "embeddings.patch_projection": 2 * h * config.num_channels * patch_h * patch_w * patches,
        "embeddings.patch_projection_bias": h * patches,
        "embeddings.add_position": h * seq_len,
        "embeddings.dropout": DROPOUT_FLOPS * h * seq_len,
    }
    terms.update({f"blocks.{k}": n * seq_len * config.num_hidden_layers for k, n in block.items()})
    terms.update({
        "head.layer_norm": LAYER_NORM_FLOPS * h * seq_len,  # vit.layernorm, on every token
        "head.classifier": 2 * h * labels,  # the CLS token alone
        "head.classifier_bias": labels,
        "head.softmax": SOFTMAX_FLOPS * labels,
    })
    return terms
