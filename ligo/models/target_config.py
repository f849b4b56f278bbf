"""The target model's config: --config_name's JSON, or derived from the source model's config by
``--target_layers N --target_hidden H [--target_intermediate F]``, so that growing a checkpoint a
user brings (of any head size) needs no JSON written for it.

A derived config is the source's with the sizes replaced: N layers (default: the source's), width
H (default: the source's) in heads of the source's size (H / head size heads, which growth needs),
an FFN of F (default: the source's FFN / hidden ratio times H), and every other field the
source's. The family names the fields (``Family.size_fields``; ``derived_fields``, which the config
class recomputes from the sizes, are left for it to)."""

import math

from transformers import PretrainedConfig

from ligo.base.errors import UserError
from ligo.models.families import family_of
from ligo.models.loading import load_config

TARGET_FLAGS = ("target_layers", "target_hidden", "target_intermediate")


def given_target_flags(args) -> list[str]:
    return [f"--{flag}" for flag in TARGET_FLAGS if getattr(args, flag) is not None]


def check_target_flags(args):
    """Exactly one of --config_name and the --target_* flags; these need a source to derive from."""
    given = given_target_flags(args)
    if args.config_name is not None and given:
        raise UserError(f"--config_name and {' '.join(given)} both give the target model; pass one: --config_name "
                        "a config JSON, or the --target_* flags to derive it from --source_model_path's config")
    if args.config_name is None and not given:
        raise UserError("no target model: pass --config_name a config JSON (configs/*.json), or --target_layers "
                        "and/or --target_hidden to derive it from --source_model_path's config")
    if given and not args.source_model_path:
        verb = "derives" if len(given) == 1 else "derive"
        raise UserError(f"{' '.join(given)} {verb} the target from the source model's config: pass "
                        "--source_model_path too, or give the target as --config_name a config JSON")
    for flag in TARGET_FLAGS:
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f"--{flag} must be at least 1, got {value}")


def target_name(args) -> str:
    """The target as messages name it: its JSON, or the flags that derive it."""
    if args.config_name is not None:
        return args.config_name
    return "the source's config with " + " ".join(f"--{flag} {getattr(args, flag)}" for flag in TARGET_FLAGS
                                                   if getattr(args, flag) is not None)


def load_target_config(args, source_folder: str | None) -> PretrainedConfig:
    """The target's config from the command line; ``source_folder``: --source_model_path as a model
    folder (a run's output_dir resolved to its latest checkpoint), or None without it."""
    check_target_flags(args)
    if args.config_name is not None:
        return load_config(args.model_type, args.config_name, args.cache_dir)
    try:
        source = load_config(args.model_type, source_folder, args.cache_dir)
    except UserError as err:
        raise UserError(f"--source_model_path: {err}") from None
    return derive_config(source, args.target_layers, args.target_hidden, args.target_intermediate)


def derive_config(source: PretrainedConfig, layers: int | None = None, hidden: int | None = None,
                  intermediate: int | None = None) -> PretrainedConfig:
    """The source's config with these sizes (None: the source's), in heads of the source's size."""
    family = family_of(source.model_type)
    head_size = source.hidden_size // source.num_attention_heads
    hidden = source.hidden_size if hidden is None else hidden
    sizes = family.size_fields
    if family.head_size is not None:  # the config sets the head size: keep it, the heads in proportion to H
        return _derive_heads_in_proportion(source, family, layers, hidden, intermediate)
    if hidden % head_size:
        below = hidden // head_size * head_size
        fits = " or ".join(str(width) for width in sorted({max(below, head_size), below + head_size}))
        raise UserError(f"--target_hidden {hidden} is not a multiple of the source's attention head size {head_size} "
                        f"(hidden_size {source.hidden_size} / {source.num_attention_heads} heads), and growth adds "
                        f"heads of that size; use {fits}")
    if intermediate is None:  # the source's FFN / hidden ratio
        intermediate = round(family.space_sizes(source)["ffn"] * hidden / source.hidden_size)
    return _with_sizes(source, family, [(sizes.layers, source.num_hidden_layers if layers is None else layers),
                                        (sizes.hidden, hidden), (sizes.heads, hidden // head_size),
                                        (sizes.ffn, intermediate)])


def _derive_heads_in_proportion(source: PretrainedConfig, family, layers: int | None, hidden: int,
                                intermediate: int | None) -> PretrainedConfig:
    """A family whose config sets the head size (Llama's head_dim): the target keeps it, and its
    query and key/value heads grow as the hidden size does, so that each key/value group keeps its
    number of query heads (what Net2Net's copies of whole groups need)."""
    sizes = family.size_fields
    kv_heads = getattr(source, sizes.kv_heads) if sizes.kv_heads is not None else source.num_attention_heads
    step = source.hidden_size // math.gcd(source.hidden_size, kv_heads)  # the widths that give whole kv heads
    if hidden % step:
        below = hidden // step * step
        fits = " or ".join(str(width) for width in sorted({max(below, step), below + step}))
        raise UserError(f"--target_hidden {hidden} does not scale the source's {source.num_attention_heads} heads in "
                        f"{kv_heads} key/value groups (hidden_size {source.hidden_size}) to whole heads, which a "
                        f"derived target keeps in proportion at the source's head size; use a multiple of {step}: "
                        f"{fits}")
    if intermediate is None:  # the source's FFN / hidden ratio
        intermediate = round(family.space_sizes(source)["ffn"] * hidden / source.hidden_size)
    # Exact: hidden is a multiple of step, and the query heads are a multiple of the key/value heads.
    fields = [(sizes.layers, source.num_hidden_layers if layers is None else layers), (sizes.hidden, hidden),
              (sizes.heads, source.num_attention_heads * hidden // source.hidden_size), (sizes.ffn, intermediate)]
    if sizes.kv_heads is not None:
        fields.append((sizes.kv_heads, kv_heads * hidden // source.hidden_size))
    return _with_sizes(source, family, fields)


def _with_sizes(source: PretrainedConfig, family, fields: list[tuple[str, int]]) -> PretrainedConfig:
    values = source.to_dict()
    for field in family.derived_fields:
        values.pop(source.attribute_map.get(field, field), None)
    for field, value in fields:
        values[source.attribute_map.get(field, field)] = value
    return family.config_class.from_dict(values)
