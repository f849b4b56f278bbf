"""ViT's analytical FLOPs (ligo/models/vit_flops.py): against torch's FlopCounterMode on a real
forward of Hugging Face's ViTForImageClassification, and against DeiT's published counts."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count
from transformers import ViTConfig, ViTForImageClassification

from ligo.models.vit_flops import MATMUL_TERMS, flops_breakdown, sequence_length

TINY = dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64, image_size=16,
            patch_size=4, num_labels=10)
OTHER = dict(num_hidden_layers=3, hidden_size=48, num_attention_heads=3, intermediate_size=80, image_size=24,
             patch_size=8, num_channels=1, num_labels=7, qkv_bias=False)


def deit(layers, hidden, heads, ffn) -> ViTConfig:
    return ViTConfig(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads, intermediate_size=ffn,
                     image_size=224, patch_size=16, num_labels=1000)


def counted(config: ViTConfig) -> FlopCounterMode:
    torch.manual_seed(0)
    model = ViTForImageClassification(config).eval()
    pixels = torch.randn(1, config.num_channels, config.image_size, config.image_size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(pixel_values=pixels)
    return counter


def matmul_flops(config: ViTConfig) -> int:
    terms = flops_breakdown(config, sequence_length(config))
    return sum(terms[name] for name in MATMUL_TERMS)


@pytest.mark.parametrize("shape", [TINY, OTHER], ids=["tiny", "other"])
def test_matmuls_equal_the_flop_counter_exactly(shape):
    # Eager attention runs the scores and weighted values as bmm, which the counter sees.
    config = ViTConfig(**shape, attn_implementation="eager")
    counter = counted(config)
    assert counter.get_total_flops() == matmul_flops(config)
    terms = flops_breakdown(config, sequence_length(config))
    by_op = counter.get_flop_counts()["Global"]
    assert by_op[torch.ops.aten.convolution] == terms["embeddings.patch_projection"]
    assert by_op[torch.ops.aten.bmm] == terms["blocks.attention_scores"] + terms["blocks.attention_weighted_values"]


def test_sdpa_attention_is_counted_on_gpu_only():
    """SDPA (Hugging Face's default) runs a fused kernel; CPU's has no flop formula in torch."""
    config = ViTConfig(**TINY)
    terms = flops_breakdown(config, sequence_length(config))
    attention = terms["blocks.attention_scores"] + terms["blocks.attention_weighted_values"]
    assert counted(config).get_total_flops() == matmul_flops(config) - attention
    # What the GPU kernels (_scaled_dot_product_{flash,efficient,cudnn}_attention) are counted as.
    heads, s = config.num_attention_heads, sequence_length(config)
    shape = (1, heads, s, config.hidden_size // heads)
    assert config.num_hidden_layers * sdpa_flop_count(shape, shape, shape) == attention


def test_by_hand():
    # TINY: s = (16 / 4)^2 + 1 = 17, h=32, i=64, 2 layers, 10 labels, 3 channels
    h, i, s, layers, labels = 32, 64, 17, 2, 10
    assert sequence_length(ViTConfig(**TINY)) == s
    matmuls = (2 * h * 3 * 4 * 4 * (s - 1)                          # patch projection
               + layers * s * (4 * 2 * h * h + 2 * 2 * h * i + 2 * 2 * h * s)  # dense layers, attention
               + 2 * h * labels)                                     # classifier, CLS only
    assert matmuls == matmul_flops(ViTConfig(**TINY)) == 680_832


def test_deit_matches_the_literature():
    # DeiT (Touvron et al. 2021), Table 1: DeiT-S 4.6 GFLOPs, DeiT-B 17.6 GFLOPs at 224x224, where a
    # "FLOP" is a multiply-add; ligo counts 2 per multiply-add, plus the elementwise ops (~1%).
    for config, gmacs in [(deit(12, 384, 6, 1536), 4.6), (deit(12, 768, 12, 3072), 17.6)]:
        matmuls = matmul_flops(config)
        total = sum(flops_breakdown(config, 197).values())
        assert round(matmuls / 2e9, 1) == gmacs, matmuls
        assert matmuls < total < 1.02 * matmuls, total
    assert sum(flops_breakdown(deit(12, 384, 6, 1536), 197).values()) == 9_281_919_168


def test_refuses_what_a_vit_cannot_run():
    config = ViTConfig(**TINY)
    with pytest.raises(ValueError, match="16.*17"):
        flops_breakdown(config, 16)
    with pytest.raises(ValueError, match="head_fraction"):
        flops_breakdown(config, 17, head_fraction=0.5)
