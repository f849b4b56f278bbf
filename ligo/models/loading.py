"""Models of any registered family (ligo/models/families.py): Hugging Face's own classes, built
from a JSON config, saved and loaded in the Hugging Face format (safetensors). A model folder
that records its checksums (our checkpoints: ligo/base/checksums.py) is checked as it is loaded.

A checkpoint users bring may be any class of the family (``read_model``): with or without the
base model's prefix, with a pooler or fine-tuning head the pretraining class has no place for
(dropped, and said), in any floating dtype (loaded in float32; the saved dtype is reported). Its
base model must be complete; a missing pretraining head is refused unless the caller asks for one
initialised from a seed. transformers' own load report is replaced by these lines."""

import contextlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from torch import Tensor
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel, initialization

from ligo.base.checksums import SUMS_FILE, find_problem, read_checksums
from ligo.base.errors import UserError
from ligo.base.seeds import stream_seed
from ligo.models.families import family_of

# Model weights as save_pretrained writes them, whole or sharded.
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
# safetensors' names of the floating dtypes a checkpoint may be saved in.
SAVED_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
LOAD_REPORT_LOGGER = "transformers.modeling_utils"


@dataclass(frozen=True)
class LoadedModel:
    model: PreTrainedModel  # in float32
    saved_dtype: torch.dtype  # the dtype of its saved weights
    notes: tuple[str, ...]  # what was dropped or newly initialised, one line each, for the user


def load_config(model_type: str, config_name: str, cache_dir: str | None = None) -> PretrainedConfig:
    family = family_of(model_type)
    config_class = family.config_class
    path = Path(config_name)
    if path.is_dir() and not (path / "config.json").is_file():
        # transformers would give the family's default config (BERT-Base) for such a folder, silently
        raise UserError(f"model config '{config_name}' is a folder without config.json; pass a JSON file such as "
                        f"{family.example_config}, or a model folder that holds one")
    if path.is_file():
        try:
            config = config_class.from_json_file(str(path))
        except (OSError, ValueError) as err:
            raise UserError(f"model config '{config_name}' is not a valid JSON config ({_one_line(err)}); fix it or "
                            f"pass one such as {family.example_config}") from None
    else:
        try:
            config = config_class.from_pretrained(config_name, cache_dir=cache_dir)
        except (OSError, ValueError):
            raise UserError(f"model config '{config_name}' is neither a file nor a Hugging Face model that could be "
                            f"found; pass a JSON file such as {family.example_config}") from None
    if config.model_type != model_type:
        raise UserError(f"model config '{config_name}' is a {config.model_type} config but --model_type is "
                        f"{model_type}")
    if family.head_size is None and config.hidden_size % config.num_attention_heads:
        raise UserError(f"model config '{config_name}': hidden_size {config.hidden_size} is not a multiple of "
                        f"num_attention_heads {config.num_attention_heads}; fix one of them")
    if family.check_config is not None:
        family.check_config(config, f"model config '{config_name}'")
    return config


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def max_block_size(config: PretrainedConfig, model_type: str) -> int:
    """The longest block the model takes: its positions less the special tokens around a block."""
    family = family_of(model_type)
    return config.max_position_embeddings - family.position_offset - family.special_tokens_per_block


def resolve_block_size(block_size: int, config: PretrainedConfig, model_type: str) -> int:
    longest = max_block_size(config, model_type)
    if block_size == -1:
        return longest
    if block_size < 1:
        raise UserError(f"--block_size must be at least 1 (or -1 for the longest), got {block_size}")
    if block_size > longest:
        family = family_of(model_type)
        offset = f" - {family.position_offset} padding offset" if family.position_offset else ""
        raise UserError(
            f"--block_size {block_size} is above the model's limit of {longest} (max_position_embeddings "
            f"{config.max_position_embeddings}{offset} - {family.special_tokens_per_block} special tokens); "
            f"use at most {longest}"
        )
    return block_size


def new_model(model_type: str, config: PretrainedConfig, seed: int) -> PreTrainedModel:
    """A randomly initialised model; the same seed gives the same weights on every rank."""
    model_class = family_of(model_type).pretraining_class
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_class(config)


def empty_model(model_type: str, config: PretrainedConfig) -> PreTrainedModel:
    """The family's pretraining model with its parameters and buffers on the meta device: no memory."""
    with torch.device("meta"), initialization.meta_device_safe_creation_ops():
        return family_of(model_type).pretraining_class(config)


def new_model_part(model_type: str, config: PretrainedConfig, seed: int, layer: int | None) -> dict[str, Tensor]:
    """The parameters of one part of a randomly initialised model, alone, by their Hugging Face
    names: layer ``layer`` of the family's layer list, or (``None``) everything outside the layers.
    The family's own initialisation, each part from its own stream of ``seed``: any part is made
    without the rest of the model, the same on every rank (not ``new_model``'s values, whose
    streams run through the whole model)."""
    family = family_of(model_type)
    model = empty_model(model_type, config)
    layers = model.get_submodule(family.layers_path)
    if layer is None:
        parent, _, attribute = family.layers_path.rpartition(".")
        setattr(model.get_submodule(parent), attribute, torch.nn.ModuleList())  # no layer gets memory
        part, prefix = model, ""
    else:
        part, prefix = layers[layer], f"{family.layers_path}.{layer}."
    part.to_empty(device="cpu")
    if layer is None:
        model.tie_weights()  # to_empty gave each name of a tied weight a tensor of its own
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, "layer" if layer is not None else "outside layers", layer))
        model.initialize_weights()  # the parts still on the meta device take no memory and draw nothing
    return {prefix + name: tensor.detach() for name, tensor in part.named_parameters()}


def checked_config(model_type: str, path: str, cache_dir: str | None) -> PretrainedConfig:
    """The saved config of model ``path``, once its files are checked as any model's are before it
    is read: safetensors only, its checksums where it records them, the family of --model_type."""
    require_safetensors(path, "model")
    verify_model_files(path)
    saved = _saved_config(path, cache_dir)
    if saved.model_type != model_type:
        # Loaded anyway, a model of the other family would silently get random weights.
        raise UserError(f"model '{path}' is a {saved.model_type} model but --model_type is {model_type}; "
                        f"pass a {model_type} checkpoint (growth and training stay within one family)")
    return saved


def shard_readable(model_type: str, path: str, config: PretrainedConfig) -> Path | None:
    """``path`` as a folder each rank of a sharded run can read its own slices of (DCP's
    ``HuggingFaceStorageReader``, as a resumed run does), or None where the model must be read
    whole first (``read_model``): a hub id, or a folder whose safetensors tensors are not exactly
    the family's pretraining model's for ``config`` (names and shapes: another class, a missing
    head, a prefix) or that holds other safetensors files. Checked from the files' headers, as
    ``read_model`` checks what it reads: safetensors only, checksums, the family."""
    folder = Path(path)
    files = _weight_files(folder) if folder.is_dir() else []
    if not files or sorted(folder.glob("*.safetensors")) != sorted(files):
        return None
    checked_config(model_type, path, None)
    model = empty_model(model_type, config)
    state = model.state_dict()
    # What a checkpoint holds: each tensor once (a tied one under its parameter's name).
    own = [name for name, _ in model.named_parameters()] + [name for name, _ in model.named_buffers() if name in state]
    shapes = {}
    for file in files:
        with safe_open(str(file), framework="pt") as weights:
            shapes.update({key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()})
    if shapes != {name: tuple(state[name].shape) for name in own}:
        return None
    return folder


def load_model(model_type: str, path: str, config: PretrainedConfig | None = None,
               cache_dir: str | None = None, new_head_seed: int | None = None) -> PreTrainedModel:
    """A model from a Hugging Face checkpoint folder or hub id: safetensors only, never a pickle
    (``read_model``; what it notes is the caller's to say)."""
    return read_model(model_type, path, config, cache_dir, new_head_seed).model


def read_model(model_type: str, path: str, config: PretrainedConfig | None = None, cache_dir: str | None = None,
               new_head_seed: int | None = None) -> LoadedModel:
    """The family's pretraining model from any checkpoint of the family, in float32. Its base model
    must be complete; a missing pretraining head is refused unless ``new_head_seed`` is given, which
    initialises it (the same seed, the same head); weights the pretraining class has no place for
    are dropped. Both are noted in ``LoadedModel.notes``."""
    family = family_of(model_type)
    saved = checked_config(model_type, path, cache_dir)
    try:
        with quiet_load_report(), torch.random.fork_rng(devices=[]):
            # Whatever the checkpoint lacks is initialised from the global generator: seeded, so
            # that it is the same in every run (and on every rank) with the same seed.
            torch.manual_seed(0 if new_head_seed is None else new_head_seed)
            model, info = family.pretraining_class.from_pretrained(
                path, config=config or saved, cache_dir=cache_dir, use_safetensors=True, dtype=torch.float32,
                output_loading_info=True, ignore_mismatched_sizes=True)
    except (OSError, ValueError, SafetensorError) as err:
        raise UserError(f"model '{path}' could not be loaded ({_one_line(err)}); it is damaged or not a model "
                        "folder: pass another checkpoint folder or a run's --output_dir") from None
    notes = []
    _check_shapes(path, info["mismatched_keys"])
    new_head = _check_complete(path, model, saved, sorted(info["missing_keys"]), new_head_seed)
    if new_head is not None:
        notes.append(new_head)
    dropped = _dropped_modules(model, sorted(info["unexpected_keys"]))
    if dropped:
        it, is_ = ("it", "is") if len(dropped) == 1 else ("them", "are")
        named = dropped[:4] + ([f"{len(dropped) - 4} more modules"] if len(dropped) > 4 else [])
        notes.append(f"model '{path}': its {' and '.join(named)} {is_} dropped: {type(model).__name__} has no place "
                     f"for {it}, so a model grown or trained from it lacks {it} (a class that has {it}, such as "
                     f"AutoModel, gets {it} untrained)")
    return LoadedModel(model, saved_dtype(path, saved), tuple(notes))


@contextlib.contextmanager
def quiet_load_report():
    """transformers' MISSING/UNEXPECTED table (and its warning that a tied bias is absent):
    ``read_model`` says what matters in one line instead. A filter, not a higher level:
    transformers runs extra checks when that logger's level is raised."""
    def keep(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "LOAD REPORT" not in message and "tied weights mapping" not in message

    logger = logging.getLogger(LOAD_REPORT_LOGGER)
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def _check_shapes(path: str, mismatched):
    if mismatched:
        key, saved_shape, model_shape = sorted(mismatched)[0]
        raise UserError(f"model '{path}': weight {key} is {list(saved_shape)} in the checkpoint but "
                        f"{list(model_shape)} in the config it is loaded with; pass a checkpoint and config of the "
                        "same model")


def _check_complete(path: str, model: PreTrainedModel, saved: PretrainedConfig, missing: list[str],
                    new_head_seed: int | None) -> str | None:
    """Refuse a model whose base model lacks a weight, or whose pretraining head is missing unless
    a new one is asked for; the note that says so, if one was made."""
    base = f"{model.base_model_prefix}."
    in_base = [key for key in missing if key.startswith(base)]
    if in_base:
        more = f" and {len(in_base) - 1} more" if len(in_base) > 1 else ""
        raise UserError(f"model '{path}' lacks weight {in_base[0]}{more}: it is incomplete or not a "
                        f"{saved.model_type} checkpoint of its config.json; pass a complete checkpoint")
    if not missing:
        return None
    head = family_of(saved.model_type).head_name
    weights = _common_name(missing)
    kind = f"a {saved.architectures[0]} checkpoint" if saved.architectures else "a checkpoint without it"
    if new_head_seed is None:
        raise UserError(f"model '{path}' has no {head} ({weights}: {kind}); pass --source_head random to initialise "
                        "one from --seed, or a checkpoint that holds it")
    output, inputs = model.get_output_embeddings(), model.get_input_embeddings()
    tied = output is not None and inputs is not None and output.weight is inputs.weight
    return (f"model '{path}' has no {head} ({kind}): {weights} initialised from --seed {new_head_seed}"
            + ("; its decoder stays tied to the input embeddings" if tied else ""))


def _common_name(keys: list[str]) -> str:
    """``cls.predictions.*`` for the keys under cls.predictions; the key itself if only one."""
    if len(keys) == 1:
        return keys[0]
    common = os.path.commonprefix([key.split(".") for key in keys])
    return f"{'.'.join(common)}.*" if common else ", ".join(keys)


def _dropped_modules(model: PreTrainedModel, unexpected: list[str]) -> list[str]:
    """What the checkpoint holds that the pretraining model has no place for, each named once:
    the family's extras by name (``Family.extras``), anything else by its module path."""
    base = f"{model.base_model_prefix}."
    extras = family_of(model.config.model_type).extras
    found = {}
    for key in unexpected:
        module = key.removeprefix(base).rsplit(".", 1)[0]
        name = next((what if what == place else f"{what} ({place})" for place, what in extras
                     if module == place or module.startswith(f"{place}.")), f"weights {module}")
        found.setdefault(name, None)
    return list(found)


def saved_dtype(path: str, config: PretrainedConfig) -> torch.dtype:
    """The floating dtype a model was saved in: that of most of its safetensors tensors in a local
    folder (the files say what they hold), else its config's ``dtype``; float32 if neither says."""
    counts = Counter()
    for file in _weight_files(Path(path)):
        with safe_open(str(file), framework="pt") as weights:
            for key in weights.keys():
                dtype = SAVED_DTYPES.get(weights.get_slice(key).get_dtype())
                if dtype is not None:
                    counts[dtype] += 1
    if counts:
        return counts.most_common(1)[0][0]
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) and dtype.is_floating_point else torch.float32


def _weight_files(folder: Path) -> list[Path]:
    if (folder / SAFETENSORS_WEIGHTS[0]).is_file():
        return [folder / SAFETENSORS_WEIGHTS[0]]
    index = folder / SAFETENSORS_WEIGHTS[1]
    if index.is_file():
        return [folder / name for name in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
    return []  # a hub id: its config says


def verify_model_files(path: str):
    """The model's files (config, weights) in a folder that records its checksums, as written."""
    folder = Path(path)
    try:
        sums = read_checksums(folder) if folder.is_dir() else None
    except (ValueError, UnicodeDecodeError) as err:
        raise UserError(f"model '{path}': its {SUMS_FILE} is damaged ({_one_line(err)}); pass another checkpoint "
                        "folder") from None
    if sums is None:
        return
    model_files = [name for name in sums if name == "config.json" or
                   (name.startswith("model") and name.endswith((".safetensors", ".safetensors.index.json")))]
    problem = find_problem(folder, sums, model_files)
    if problem is not None:
        what = "does not match the checksum recorded when it was written" if problem.what == "damaged" else \
            "is missing"
        raise UserError(f"model file '{problem.path}' {what} ({SUMS_FILE}): the model is damaged; pass another "
                        "checkpoint folder (an earlier one of its run)")


def _saved_config(path: str, cache_dir: str | None) -> PretrainedConfig:
    try:
        return AutoConfig.from_pretrained(path, cache_dir=cache_dir)
    except (OSError, ValueError) as err:
        if Path(path).exists():
            raise UserError(f"model '{path}' has no readable config.json ({_one_line(err)}); pass a checkpoint "
                            "folder or a run's --output_dir") from None
        raise UserError(f"model '{path}' is neither a folder nor a Hugging Face model that could be found; pass a "
                        "checkpoint folder or a run's --output_dir") from None


def require_safetensors(path: str, what: str):
    """Refuse a local model folder whose weights are only pickles: unpickling can run code."""
    folder = Path(path)
    if not folder.is_dir() or any((folder / name).is_file() for name in SAFETENSORS_WEIGHTS):
        return  # a hub id, or safetensors weights (from_pretrained is told to read nothing else)
    pickles = sorted(p.name for p in folder.glob("*.bin"))  # pytorch_model.bin, or its shards
    if pickles:
        raise UserError(f"{what} '{path}' holds its weights only as pickles ({', '.join(pickles)}), which are never "
                        "loaded because unpickling can run code; convert them to safetensors where you trust the file "
                        "(`save_pretrained(..., safe_serialization=True)`)")
