"""The model to fine-tune: found (a run's output_dir, a checkpoint folder or a hub id,
offline first) and loaded with a fresh task head (a classifier for GLUE, span start and end
scores for SQuAD), Hugging Face's unmodified ``AutoModelFor...`` classes.

Only a model whose family declares the script's head (``Family.finetune_heads``) is fine-tuned;
any other (a family without it, a hub model of a type not registered) is refused in one line
before anything is written. Our checkpoints are masked-LM models: their MLM head is dropped
and the task head (and, for BERT's classifier, the pooler, which BertForMaskedLM lacks) is
newly initialised, as with any pretrained encoder. transformers' load report lists those keys
as MISSING in a warning table; it is silenced and replaced by one plain line, and an encoder
weight missing from the checkpoint is refused instead of being silently trained from random.
Weights are read from safetensors only: a pickle (pytorch_model.bin) is never loaded, as
unpickling can run code.
"""

import os
from pathlib import Path

from safetensors import SafetensorError
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel

from ligo.base.errors import UserError
from ligo.models.families import FAMILIES, families_with_head, position_offset
from ligo.models.loading import quiet_load_report, require_safetensors, verify_model_files
from ligo.training.checkpoint import resolve_model_path


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def resolve_model(name_or_path: str) -> tuple[str, PretrainedConfig]:
    """The folder (or hub id) to load, and its config; a UserError names a bad value."""
    if Path(name_or_path).exists():
        path = resolve_model_path(name_or_path)
        if not (Path(path) / "config.json").is_file():
            raise UserError(f"--model_name_or_path '{name_or_path}' holds no config.json and no checkpoints/; pass a "
                            "training run's --output_dir, a checkpoint folder, or a Hugging Face model id")
        return path, _local_config(path)
    return name_or_path, _hub_config(name_or_path)


def check_finetune_head(config: PretrainedConfig, name_or_path: str, head: str, script: str):
    """Refuse a model whose family does not declare ``head`` (a ligo.models.family head name),
    before the script writes anything: its data and head would fail midway otherwise."""
    family = FAMILIES.get(config.model_type)
    if family is not None and head in family.finetune_heads:
        return
    kinds = families_with_head(head)
    what = "" if family is not None else ", not a family of this project"
    raise UserError(f"--model_name_or_path '{name_or_path}' is a {config.model_type} model{what}; {script} fine-tunes "
                    f"families with a {head} head ({', '.join(kinds)}): pass a {' or '.join(kinds)} checkpoint")


def _local_config(path: str) -> PretrainedConfig:
    try:
        return AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise UserError(f"--model_name_or_path '{path}': its config could not be read ({_one_line(err)})") from None


def _hub_config(name: str) -> PretrainedConfig:
    for local_only in (True,) if _offline() else (True, False):
        try:
            return AutoConfig.from_pretrained(name, local_files_only=local_only)
        except (OSError, ValueError):
            continue
    raise UserError(f"--model_name_or_path '{name}' is not a folder and not a Hugging Face model in the cache"
                    + ("" if _offline() else " or on the hub")
                    + "; pass a training run's --output_dir, a checkpoint folder, or a downloaded hub id")


def load_with_head(path: str, auto_class, what: str, **kwargs) -> tuple[PreTrainedModel, list[str]]:
    """The pretrained encoder with a new task head (``auto_class``, e.g.
    AutoModelForQuestionAnswering), and the names of the new weights. ``what`` names the head in
    errors ("a sequence classifier")."""
    require_safetensors(path, "--model_name_or_path")
    verify_model_files(path)  # a checkpoint of ours records its checksums
    # A hub id found in the cache loads from it; the hub is asked only if it is not there.
    attempts = (True,) if _offline() or Path(path).exists() else (True, False)
    for local_only in attempts:
        try:
            with quiet_load_report():
                model, info = auto_class.from_pretrained(path, local_files_only=local_only, output_loading_info=True,
                                                         use_safetensors=True, **kwargs)
            break
        except (OSError, ValueError, SafetensorError) as err:
            error = err
    else:
        raise UserError(f"--model_name_or_path '{path}' could not be loaded as {what} ({_one_line(error)})")
    new = sorted(set(info["missing_keys"]) | {key for key, *_ in info["mismatched_keys"]})
    _check_encoder_complete(model, new, path)
    return model, new


def _check_encoder_complete(model: PreTrainedModel, new_keys: list[str], path: str):
    encoder = f"{model.base_model_prefix}."
    missing = [key for key in new_keys if key.startswith(encoder) and ".pooler." not in key]
    if missing:
        raise UserError(f"--model_name_or_path '{path}' lacks {len(missing)} encoder weights (e.g. {missing[0]}); "
                        f"it is not a pretrained {model.config.model_type} of this architecture, pass another "
                        "checkpoint")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")


def tokenizer_name(tokenizer_flag: str | None, model_path: str) -> str:
    """--tokenizer_name, else the model's folder, which must then hold one."""
    if tokenizer_flag:
        return tokenizer_flag
    folder = Path(model_path)
    if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise UserError(f"--model_name_or_path '{model_path}' holds no tokenizer (no tokenizer.json); pass the one it "
                        "was pretrained with as --tokenizer_name")
    return model_path


def check_tokenizer_matches(config: PretrainedConfig, tokenizer, model_path: str, tokenizer_name: str):
    """A bigger vocabulary indexes past the embeddings; another pad id shifts RoBERTa's positions."""
    pad_differs = config.pad_token_id is not None and tokenizer.pad_token_id != config.pad_token_id
    if len(tokenizer) > config.vocab_size or pad_differs:
        raise UserError(f"tokenizer '{tokenizer_name}' ({len(tokenizer)} tokens, pad id {tokenizer.pad_token_id}) "
                        f"does not fit model '{model_path}' (vocab_size {config.vocab_size}, pad_token_id "
                        f"{config.pad_token_id}); pass the tokenizer it was pretrained with as --tokenizer_name")


def check_max_seq_length(config: PretrainedConfig, max_seq_length: int):
    longest = config.max_position_embeddings - position_offset(config.model_type)
    if max_seq_length > longest:
        raise UserError(f"--max_seq_length {max_seq_length} exceeds the model's {longest} positions; "
                        f"use --max_seq_length {longest} or less")
