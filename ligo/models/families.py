"""The registry of model families by ``model_type``, and what the family-agnostic code asks of
a config's family: its layout and spaces, whether a pair can grow, its FLOPs. A new family is
a module in ligo/models/ (see ligo/models/family.py) added to ``FAMILIES``."""

from transformers import PretrainedConfig

from ligo.base.errors import UserError
from ligo.models import bert, gpt2, roberta, vit
from ligo.models.family import Family
from ligo.models.flops import BACKWARD_TO_FORWARD
from ligo.models.layout import Layout

FAMILIES: dict[str, Family] = {family.model_type: family
                               for family in (bert.FAMILY, roberta.FAMILY, gpt2.FAMILY, vit.FAMILY)}
MODEL_TYPES = tuple(FAMILIES)


def family_of(model_type: str) -> Family:
    try:
        return FAMILIES[model_type]
    except KeyError:
        raise UserError(f"model_type '{model_type}' is not a family this project trains or grows; use one of "
                        f"{', '.join(MODEL_TYPES)} (a new family is one module in ligo/models/)") from None


def layout_of(model_type: str) -> Layout:
    return family_of(model_type).layout()


def space_sizes(config: PretrainedConfig) -> dict[str, int]:
    return family_of(config.model_type).space_sizes(config)


def position_offset(model_type: str) -> int:
    """Position slots before the first token's (RoBERTa's padding_idx + 1)."""
    return family_of(model_type).position_offset


def families_with_head(head: str) -> tuple[str, ...]:
    """The model types whose family declares fine-tuning head ``head`` (``Family.finetune_heads``)."""
    return tuple(model_type for model_type, family in FAMILIES.items() if head in family.finetune_heads)


def check_growable(small: PretrainedConfig, large: PretrainedConfig, small_name: str, large_name: str):
    """Refuse pairs no growth operator can map, naming both models."""
    pair = f"'{small_name}' ({small.model_type} {small.num_hidden_layers}L-{small.hidden_size}H) to " \
           f"'{large_name}' ({large.model_type} {large.num_hidden_layers}L-{large.hidden_size}H)"
    if small.model_type != large.model_type:
        raise UserError(f"cannot grow {pair}: the families differ; grow a model into one of its own family")
    family = family_of(small.model_type)
    for field, what in family.growable_fields:
        if getattr(large, field) < getattr(small, field):
            raise UserError(f"cannot grow {pair}: the target has fewer {what} ({getattr(large, field)} < "
                            f"{getattr(small, field)}); the target must be at least as large in every dimension")
    small_spaces, large_spaces = family.space_sizes(small), family.space_sizes(large)
    for space, size in small_spaces.items():
        if large_spaces[space] < size:
            raise UserError(f"cannot grow {pair}: the target's {space} space is smaller ({large_spaces[space]} < "
                            f"{size}); the target must be at least as large in every dimension")
    for field in family.shared_fields:
        if getattr(large, field) != getattr(small, field):
            raise UserError(f"cannot grow {pair}: {field} differs ({getattr(small, field)} vs "
                            f"{getattr(large, field)}); "
                            "both models must share it (the tokenizer and positions; a ViT's images and classes)")
    for config, name in [(small, small_name), (large, large_name)]:
        if config.hidden_size % config.num_attention_heads:
            raise UserError(f"'{name}': hidden_size {config.hidden_size} is not divisible by "
                            f"{config.num_attention_heads} heads")
    if small.hidden_size // small.num_attention_heads != large.hidden_size // large.num_attention_heads:
        raise UserError(f"cannot grow {pair}: the attention head size differs; widening adds heads of the same size")


def flops_breakdown(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> dict[str, int]:
    """Forward FLOPs of one sequence, per term (the family's formula)."""
    return family_of(config.model_type).flops_breakdown(config, seq_len, head_fraction)


def forward_flops(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> int:
    """Forward FLOPs of one sequence."""
    return sum(flops_breakdown(config, seq_len, head_fraction).values())


def train_flops(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> int:
    """Training FLOPs (forward + backward) of one sequence."""
    return (1 + BACKWARD_TO_FORWARD) * forward_flops(config, seq_len, head_fraction)


def forward_flops_of_layers(config: PretrainedConfig, seq_len: int, layer_lengths: list[int],
                            outside: str = "all") -> int:
    """Forward FLOPs of one sequence of ``seq_len`` tokens when layer ``l`` runs on
    ``layer_lengths[l]`` of them (0: skipped), for layer and token dropping and MSLT's stages.
    ``outside`` counts the embeddings and the head too (``all``), the head only (``head``)."""
    if len(layer_lengths) != config.num_hidden_layers:
        raise ValueError(f"{len(layer_lengths)} layer lengths for {config.num_hidden_layers} layers")
    if outside not in ("all", "head"):
        raise ValueError(f"outside must be all or head, got {outside}")
    terms = flops_breakdown(config, seq_len)
    parts = ("embeddings.", "head.") if outside == "all" else ("head.",)
    total = sum(n for name, n in terms.items() if name.startswith(parts))
    per_layer = {}  # one layer's FLOPs on n tokens: the breakdown sums every layer's
    for n in set(layer_lengths) - {0}:
        blocks = sum(v for name, v in flops_breakdown(config, n).items() if name.startswith("blocks."))
        per_layer[n] = blocks // config.num_hidden_layers
    return total + sum(per_layer[n] for n in layer_lengths if n)


def matmul_forward_flops(config: PretrainedConfig, seq_len: int) -> int:
    """Forward FLOPs of one sequence in the terms torch runs as matmuls, with the head on
    every position as Hugging Face runs it: what ``FlopCounterMode`` can check."""
    terms = flops_breakdown(config, seq_len)
    return sum(terms[name] for name in family_of(config.model_type).matmul_terms)
