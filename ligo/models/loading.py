"""Models of any registered family (ligo/models/families.py): Hugging Face's own classes, built
from a JSON config, saved and loaded in the Hugging Face format (safetensors). A model folder
that records its checksums (our checkpoints: ligo/base/checksums.py) is checked as it is loaded."""

from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel

from ligo.base.checksums import SUMS_FILE, find_problem, read_checksums
from ligo.base.errors import UserError
from ligo.models.families import family_of

# Model weights as save_pretrained writes them, whole or sharded.
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


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
    if config.hidden_size % config.num_attention_heads:
        raise UserError(f"model config '{config_name}': hidden_size {config.hidden_size} is not a multiple of "
                        f"num_attention_heads {config.num_attention_heads}; fix one of them")
    return config


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def max_block_size(config: PretrainedConfig, model_type: str) -> int:
    """The longest block the model takes: its positions less the special tokens around a block."""
    family = family_of(model_type)
    return config.max_position_embeddings - family.position_offset - family.special_tokens_per_block


def check_tokenizer_fits(config: PretrainedConfig, tokenizer, config_name: str, tokenizer_name: str):
    family = family_of(config.model_type)
    for role in (family.block_start_token, family.block_end_token, family.document_end_token):
        if role is not None and getattr(tokenizer, f"{role}_id") is None:
            raise UserError(f"tokenizer '{tokenizer_name}' has no {role}, which {config.model_type}'s data needs: "
                            f"it is not a {config.model_type} tokenizer; train one with `python -m "
                            f"tokenization.train_tokenizer --kind {family.tokenizer_kind}`")
    if len(tokenizer) > config.vocab_size:
        raise UserError(
            f"tokenizer '{tokenizer_name}' has {len(tokenizer)} tokens but config '{config_name}' has vocab_size "
            f"{config.vocab_size}; use a config whose vocab_size is at least {len(tokenizer)}"
        )
    if tokenizer.pad_token_id != config.pad_token_id:
        raise UserError(
            f"tokenizer '{tokenizer_name}' pads with id {tokenizer.pad_token_id} but config '{config_name}' has "
            f"pad_token_id {config.pad_token_id}; set pad_token_id to {tokenizer.pad_token_id} in the config"
        )


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


def load_model(model_type: str, path: str, config: PretrainedConfig | None = None,
               cache_dir: str | None = None) -> PreTrainedModel:
    """A model from a Hugging Face checkpoint folder or hub id: safetensors only, never a pickle."""
    model_class = family_of(model_type).pretraining_class
    require_safetensors(path, "model")
    verify_model_files(path)
    saved = _saved_config(path, cache_dir)
    if saved.model_type != model_type:
        # Loaded anyway, a model of the other family would silently get random weights.
        raise UserError(f"model '{path}' is a {saved.model_type} model but --model_type is {model_type}; "
                        f"pass a {model_type} checkpoint (growth and training stay within one family)")
    try:
        return model_class.from_pretrained(path, config=config or saved, cache_dir=cache_dir, use_safetensors=True)
    except (OSError, ValueError, SafetensorError) as err:
        raise UserError(f"model '{path}' could not be loaded ({_one_line(err)}); it is damaged or not a model "
                        "folder: pass another checkpoint folder or a run's --output_dir") from None


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
