"""The registry of model families by ``model_type``, and what the family-agnostic code asks of
a config's family: its layout and spaces, whether a pair can grow, its FLOPs. A new family is
a module in ligo/models/ (see ligo/models/family.py) added to ``FAMILIES``."""

from collections.abc import Iterable

from transformers import PretrainedConfig

from ligo.base.errors import UserError
from ligo.models import bert, gpt2, llama, roberta, vit
from ligo.models.family import FREE_FIELDS, Family
from ligo.models.flops import BACKWARD_TO_FORWARD
from ligo.models.layout import Layout

FAMILIES: dict[str, Family] = {family.model_type: family
                               for family in (bert.FAMILY, roberta.FAMILY, gpt2.FAMILY, vit.FAMILY, llama.FAMILY)}
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


def size_label(config: PretrainedConfig) -> str:
    """A config's shape as messages name it, e.g. ``6L-512H-2048F`` (layers, hidden and FFN size)."""
    return f"{config.num_hidden_layers}L-{config.hidden_size}H-{space_sizes(config)['ffn']}F"


def position_offset(model_type: str) -> int:
    """Position slots before the first token's (RoBERTa's padding_idx + 1)."""
    return family_of(model_type).position_offset


def families_with_head(head: str) -> tuple[str, ...]:
    """The model types whose family declares fine-tuning head ``head`` (``Family.finetune_heads``)."""
    return tuple(model_type for model_type, family in FAMILIES.items() if head in family.finetune_heads)


def check_growable(small: PretrainedConfig, large: PretrainedConfig, small_name: str, large_name: str,
                   allow_mismatch: Iterable[str] | None = None):
    """Refuse pairs no growth operator can map, naming both models. With ``allow_mismatch`` (the
    entry points pass --allow_config_mismatch, empty by default) every config field the family
    declares neither grown nor free must be equal too, but those named: another activation or norm
    epsilon would make the grown model compute another function than its source. None checks what
    the growth maps need only: the growth code's own guard, also as it reloads an operator."""
    pair = f"'{small_name}' ({small.model_type} {small.num_hidden_layers}L-{small.hidden_size}H) to " \
           f"'{large_name}' ({large.model_type} {large.num_hidden_layers}L-{large.hidden_size}H)"
    if small.model_type != large.model_type:
        raise UserError(f"cannot grow {pair}: the families differ; grow a model into one of its own family")
    family = family_of(small.model_type)
    for config, name in [(small, small_name), (large, large_name)]:
        check_config(config, name)
    same_head_size = head_size(large) == head_size(small)
    for field, what in family.growable_fields:
        if field == family.size_fields.heads and not same_head_size:
            continue  # fewer heads of another size: the head-size refusal below says what fits
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
    if not same_head_size:
        raise UserError(f"cannot grow {pair}: {_head_size_fix(small, large, family)}")
    if allow_mismatch is not None:
        _check_kept_fields(small, large, family, pair, list(allow_mismatch))


def head_size(config: PretrainedConfig) -> int:
    """The attention head size of a config (its family's ``head_size``, else hidden size / heads)."""
    family = family_of(config.model_type)
    if family.head_size is not None:
        return family.head_size(config)
    return config.hidden_size // config.num_attention_heads


def check_config(config: PretrainedConfig, name: str):
    """Refuse, in one line, a config whose heads do not split its hidden size (where the family
    derives the head size so) or that its family does not support (``Family.check_config``)."""
    family = family_of(config.model_type)
    if family.head_size is None and config.hidden_size % config.num_attention_heads:
        raise UserError(f"'{name}': hidden_size {config.hidden_size} is not divisible by "
                        f"{config.num_attention_heads} heads")
    if family.check_config is not None:
        family.check_config(config, f"'{name}'")


def _key(config: PretrainedConfig, field: str) -> str:
    """A field's name in the config's JSON (GPT-2's n_embd for hidden_size)."""
    return config.attribute_map.get(field, field)


def _head_size_fix(small: PretrainedConfig, large: PretrainedConfig, family: Family) -> str:
    """Why the head sizes must be equal, and the target's head count (or widths) that would fit."""
    if family.head_size is not None:  # the config sets it (head_dim): the target must keep the source's
        return (f"the attention head size differs (source {head_size(small)}, target {head_size(large)}) and "
                f"widening adds heads of the source's size: set head_dim to {head_size(small)} in the target config")
    size = small.hidden_size // small.num_attention_heads
    heads = _key(large, family.size_fields.heads)
    hidden = large.hidden_size
    what = (f"the attention head size differs (source {size}: {small.hidden_size} / {small.num_attention_heads} "
            f"heads; target {hidden // large.num_attention_heads}: {hidden} / {large.num_attention_heads} heads) and "
            f"widening adds heads of the source's size")
    if hidden % size == 0:
        return (f"{what}: set {heads} to {hidden // size} in the target config ({hidden} / {size}), or "
                f"derive the target from the source with --target_hidden {hidden} instead of --config_name")
    below = hidden // size * size  # at least the source's width: the sizes are checked first
    return (f"{what}, which hidden_size {hidden} is not a multiple of: use a target hidden_size of {below} "
            f"({below // size} heads) or {below + size} ({below // size + 1} heads), e.g. "
            f"--target_hidden {below + size} instead of --config_name")


_UNSET = "unset"


def _check_kept_fields(small: PretrainedConfig, large: PretrainedConfig, family: Family, pair: str,
                       allowed: list[str]):
    """Every field neither grown nor free equal in both configs, but the ``allowed`` ones."""
    defaults = dict(family.field_defaults)  # what a config that lacks the field means
    values = [{**defaults, **config.to_dict()} for config in (small, large)]
    sizes = family.size_fields
    grown = [field for field, _ in family.growable_fields] + [sizes.layers, sizes.hidden, sizes.heads, sizes.ffn]
    grown += [sizes.kv_heads] if sizes.kv_heads is not None else []
    not_kept = {_key(small, field) for field in (*grown, *family.derived_fields, *family.shared_fields,
                                                 *FREE_FIELDS, *family.free_fields, "model_type")}
    known = set(values[0]) | set(values[1]) | not_kept
    unknown = [field for field in allowed if _key(small, field) not in known]
    if unknown:
        raise UserError(f"--allow_config_mismatch {' '.join(unknown)}: not a field of either config; name fields of "
                        f"the source's or the target's config.json, e.g. hidden_act")
    allowed_keys = {_key(small, field) for field in allowed}
    differing = [key for key in dict.fromkeys([*values[0], *values[1]])
                 if key not in not_kept and key not in allowed_keys
                 and values[0].get(key, _UNSET) != values[1].get(key, _UNSET)]
    if differing:
        values_text = " and ".join(f"{key} (source {values[0].get(key, _UNSET)!r}, target "
                                   f"{values[1].get(key, _UNSET)!r})" for key in differing)
        raise UserError(f"cannot grow {pair}: the target's config differs from the source's in {values_text}, so the "
                        "grown model would not compute what its source does; make them equal in the target config, or "
                        f"pass --allow_config_mismatch {' '.join(differing)} if you mean it")


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
