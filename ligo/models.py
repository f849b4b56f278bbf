"""BERT and RoBERTa masked-LM models: Hugging Face's own classes, built from a JSON config,
saved and loaded in the Hugging Face format (safetensors)."""

from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM, PretrainedConfig, PreTrainedModel, RobertaConfig, RobertaForMaskedLM

from ligo.errors import UserError

MODEL_CLASSES = {
    "bert": (BertConfig, BertForMaskedLM),
    "roberta": (RobertaConfig, RobertaForMaskedLM),
}
# RoBERTa numbers positions from padding_idx + 1, so two position slots are never used.
POSITION_OFFSET = {"bert": 0, "roberta": 2}


def load_config(model_type: str, config_name: str, cache_dir: str | None = None) -> PretrainedConfig:
    config_class, _ = MODEL_CLASSES[model_type]
    path = Path(config_name)
    try:
        if path.is_file():
            config = config_class.from_json_file(str(path))
        else:
            config = config_class.from_pretrained(config_name, cache_dir=cache_dir)
    except (OSError, ValueError) as err:
        raise UserError(f"model config '{config_name}' could not be read ({err}); pass a JSON file such as "
                        "configs/bert-6L-512H.json") from None
    if config.model_type != model_type:
        raise UserError(f"model config '{config_name}' is a {config.model_type} config but --model_type is {model_type}")
    return config


def max_block_size(config: PretrainedConfig, model_type: str) -> int:
    """The longest block the model takes: its positions less the two special tokens."""
    return config.max_position_embeddings - POSITION_OFFSET[model_type] - 2


def check_tokenizer_fits(config: PretrainedConfig, tokenizer, config_name: str, tokenizer_name: str):
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
        raise UserError(
            f"--block_size {block_size} plus 2 special tokens exceeds the model's "
            f"{config.max_position_embeddings} positions; use --block_size {longest} or less"
        )
    return block_size


def new_model(model_type: str, config: PretrainedConfig, seed: int) -> PreTrainedModel:
    """A randomly initialised model; the same seed gives the same weights on every rank."""
    _, model_class = MODEL_CLASSES[model_type]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_class(config)


def load_model(model_type: str, path: str, config: PretrainedConfig | None = None,
               cache_dir: str | None = None) -> PreTrainedModel:
    """A model from a Hugging Face checkpoint folder (safetensors) or hub id."""
    _, model_class = MODEL_CLASSES[model_type]
    try:
        return model_class.from_pretrained(path, config=config, cache_dir=cache_dir)
    except (OSError, ValueError) as err:
        raise UserError(f"model '{path}' could not be loaded ({err}); pass a checkpoint folder") from None
