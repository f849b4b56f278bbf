"""ViT / DeiT (``model_type`` vit): Hugging Face's unmodified ``ViTForImageClassification``, its
tensor layout for growth and its FLOPs (ligo/models/vit_flops.py). DeiT is this architecture
trained with DeiT's recipe (ligo/data/images.py); its shapes are configs/vit-12L-384H.json (DeiT-S)
and vit-12L-768H.json (DeiT-B).

What growth sees (the paper's Table 2 grows DeiT-S, 12L-384H, into DeiT-B, 12L-768H):
  * the patch embedding is a convolution whose kernel equals its stride, i.e. a linear map of
    each patch's pixels into the residual stream. Its weight ``[hidden, channels, p, p]`` is held
    in the growth view as ``[channels, p, p, hidden]``: a table of residual-stream vectors,
    widened in its last dimension like an embedding table (pixels are never widened);
  * the CLS token ``[1, 1, hidden]`` and the position embeddings ``[1, patches + 1, hidden]`` are
    residual-stream vectors;
  * blocks are pre-LayerNorm: ``layernorm_before`` (module type ``attn_ln``) and
    ``layernorm_after`` (``ffn_ln``) on the residual stream, as GPT-2's;
  * the final ``vit.layernorm`` and the classifier, whose outputs are classes (never widened)
    and whose inputs are the residual stream. There is no output embedding tied to an input
    one (``Layout.decoder`` None): Net2Net divides the classifier's columns like any layer's.

The loss (``image_loss``) is computed here, not by Hugging Face's head: a Mixup/CutMix batch has
soft targets, which Hugging Face's head would score with a multi-label (sigmoid) loss.
"""

import torch.nn.functional as F
from transformers import PretrainedConfig, ViTConfig, ViTForImageClassification
from transformers.modeling_outputs import ImageClassifierOutput

from ligo.models import bert, vit_flops
from ligo.models.family import Family
from ligo.models.layout import Layout, TensorSpec, linear, norm

BLOCK = "vit.layers.{i}"
# BERT's block: its layer module types in the LiGO operator's depth tensor order (saved operators
# hold them) and its spaces.
LAYER_MODULES, SPACES = bert.LAYER_MODULES, bert.BLOCK_SPACES
PATCH_WEIGHT = "vit.embeddings.patch_embeddings.projection.weight"

GROWABLE_FIELDS = (("num_hidden_layers", "layers"), ("hidden_size", "hidden size"),
                   ("intermediate_size", "FFN size"), ("num_attention_heads", "attention heads"))
# Both models see the same images and predict the same classes.
SHARED_FIELDS = ("image_size", "patch_size", "num_channels", "num_labels")
FREE_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob")
# The pooler's width, hidden_size unless set (the classification model has no pooler).
DERIVED_FIELDS = ("pooler_output_size",)


def to_growth(state: dict) -> dict:
    """Hugging Face's tensors -> the growth view: the patch projection as a table of hidden vectors."""
    return {name: tensor.permute(1, 2, 3, 0) if name == PATCH_WEIGHT else tensor for name, tensor in state.items()}


def from_growth(view: dict) -> dict:
    """The growth view -> Hugging Face's tensors (a permutation: the LiGO operator trains through it)."""
    return {name: tensor.permute(3, 0, 1, 2) if name == PATCH_WEIGHT else tensor for name, tensor in view.items()}


def layout() -> Layout:
    attn, mlp = f"{BLOCK}.attention", f"{BLOCK}.mlp"
    layer_specs = (
        *norm(f"{BLOCK}.layernorm_before", "hidden", "attn_ln"),
        *linear(f"{attn}.q_proj", "query", "hidden", "query"),
        *linear(f"{attn}.k_proj", "key", "hidden", "key"),
        *linear(f"{attn}.v_proj", "value", "hidden", "value"),
        *linear(f"{attn}.o_proj", "hidden", "value", "attn_out"),
        *norm(f"{BLOCK}.layernorm_after", "hidden", "ffn_ln"),
        *linear(f"{mlp}.fc1", "ffn", "hidden", "ffn_in"),
        *linear(f"{mlp}.fc2", "hidden", "ffn", "ffn_out"),
    )
    embeddings = (
        TensorSpec("vit.embeddings", "cls_token", "hidden"),
        TensorSpec("vit.embeddings", "position_embeddings", "hidden"),
        TensorSpec("vit.embeddings.patch_embeddings.projection", "weight", "hidden"),
        TensorSpec("vit.embeddings.patch_embeddings.projection", "bias", "hidden"),
    )
    return Layout(
        family="vit",
        embeddings=embeddings,
        layer=layer_specs,
        head=(*norm("vit.layernorm", "hidden"), *linear("classifier", None, "hidden")),
        decoder=None,
        decoder_bias=None,
        head_bias=None,
        word_embeddings=None,
        layer_modules=LAYER_MODULES,
        spaces=SPACES,
        to_growth=to_growth,
        from_growth=from_growth,
    )


def space_sizes(config: PretrainedConfig) -> dict[str, int]:
    hidden = config.hidden_size
    return {"hidden": hidden, "query": hidden, "key": hidden, "value": hidden, "ffn": config.intermediate_size}


def image_loss(model, batch: dict) -> ImageClassifierOutput:
    """Cross-entropy of the logits against ``labels``: class indices (evaluation) or soft targets
    ``[batch, classes]`` (Mixup/CutMix, label smoothing already in them: ligo/data/images.py)."""
    logits = model(pixel_values=batch["pixel_values"]).logits
    return ImageClassifierOutput(loss=F.cross_entropy(logits.float(), batch["labels"]), logits=logits)


FAMILY = Family(
    model_type="vit",
    config_class=ViTConfig,
    pretraining_class=ViTForImageClassification,
    objective="image",
    layout=layout,
    space_sizes=space_sizes,
    flops_breakdown=vit_flops.flops_breakdown,
    matmul_terms=vit_flops.MATMUL_TERMS,
    growable_fields=GROWABLE_FIELDS,
    shared_fields=SHARED_FIELDS,
    derived_fields=DERIVED_FIELDS,
    free_fields=FREE_FIELDS,
    layers_path="vit.layers",
    block_start_token=None,
    block_end_token=None,
    tokenizer_kind="",
    example_config="configs/vit-12L-384H.json",
    # None: GLUE and SQuAD are text tasks.
    finetune_heads=(),
    run_batch=image_loss,
    head_name="classifier",
    extras=(("pooler", "pooler"),),  # ViTModel's; ViTForImageClassification classifies the CLS token itself
)
