"""The small pretrained model that growth starts from (--source_model_path): a checkpoint of ours, a
run's output_dir (its latest checkpoint), or any checkpoint folder of the family a user brings
(ligo/models/loading.py read_model): with or without the base model's prefix, a base model without
the pretraining head only with --source_head random, weights the pretraining model has no place
for (a pooler) dropped and said, any floating dtype, grown and trained in float32.

The tokenizer travels with it: the one in its folder (our checkpoints hold the run's) is what a
grown model is saved with unless --tokenizer_name says otherwise, and a tokenizer whose
vocabulary cannot be the source's is refused (ligo/data/vocabulary.py)."""

from pathlib import Path

import torch
import torch.distributed as dist
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ligo.base.errors import UserError
from ligo.data.tokenizer import holds_tokenizer, load_tokenizer
from ligo.data.vocabulary import check_same_vocabulary
from ligo.models.loading import LoadedModel, read_model
from ligo.training import checkpoint

SOURCE_HEADS = ("checkpoint", "random")
SOURCE_HEAD_HELP = ("the source's pretraining head (e.g. BERT's masked-LM head, which a BertModel checkpoint lacks): "
                    "checkpoint (default): it must be in the source; random: a source without it gets one "
                    "initialised from --seed, the same in every run (its decoder stays tied to the input embeddings "
                    "where the family ties them: BERT, RoBERTa, GPT-2)")


def source_path(args) -> str:
    """--source_model_path as a model folder (a run's output_dir: its latest checkpoint) or hub id."""
    if not args.source_model_path:
        raise UserError("--source_model_path is required to grow a model: the small pretrained model "
                        "(a checkpoint folder or a run's output_dir)")
    if len(args.source_model_path) > 1:
        raise UserError(f"--source_model_path: growing from {len(args.source_model_path)} models is not supported; "
                        "give one")
    return checkpoint.resolve_model_path(args.source_model_path[0])


def load_source(args) -> LoadedModel:
    """The source model in float32, what was dropped or initialised said once."""
    seed = args.seed if args.source_head == "random" else None
    loaded = read_model(args.model_type, source_path(args), cache_dir=args.cache_dir, new_head_seed=seed)
    for note in loaded.notes:
        say(note)
    return loaded


def load_source_model(args, tokenizer: PreTrainedTokenizerBase | None = None) -> PreTrainedModel:
    """The source model of a training run (operator training, grown pretraining), in float32;
    ``tokenizer``, the run's, must be the source's vocabulary (a language model's run)."""
    loaded = load_source(args)
    if loaded.saved_dtype != torch.float32:
        say(f"source is {dtype_name(loaded.saved_dtype)}: grown and trained in float32")
    if tokenizer is not None:
        check_run_tokenizer(args, tokenizer, loaded.model.config, source_path(args))
    return loaded.model


def load_initial_model(args, config) -> PreTrainedModel:
    """--model_name_or_path, a checkpoint users bring as a source is: read the same way."""
    seed = args.seed if args.source_head == "random" else None
    loaded = read_model(args.model_type, args.model_name_or_path, config=config, cache_dir=args.cache_dir,
                        new_head_seed=seed)
    for note in loaded.notes:
        say(note)
    return loaded.model


def check_run_tokenizer(args, tokenizer: PreTrainedTokenizerBase, model_config, folder: str):
    """A training run's tokenizer (--tokenizer_name, which names its data files too, so it stays
    required) must be the vocabulary of the model in ``folder`` it grows from."""
    own = source_tokenizer(folder)
    fix = (f"tokenise the data with its own tokenizer (in '{folder}') and pass that as --tokenizer_name"
           if own is not None else "tokenise the data with the tokenizer it was trained with and pass that as "
                                   "--tokenizer_name")
    check_same_vocabulary(tokenizer, args.tokenizer_name, model_config, folder, own, fix)


def source_tokenizer(path: str) -> PreTrainedTokenizerBase | None:
    """The tokenizer a model folder holds (our checkpoints hold their run's), None if it holds
    none; for a hub id, the hub model's, if the cache (or the hub) has one."""
    if Path(path).exists():
        return load_tokenizer(path) if holds_tokenizer(Path(path)) else None
    try:
        return load_tokenizer(path)
    except UserError:
        return None  # the caller refuses a grown model without a tokenizer, or asks for one


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def say(line: str):
    """Once per run: every rank loads the source, rank 0 speaks."""
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(line, flush=True)
