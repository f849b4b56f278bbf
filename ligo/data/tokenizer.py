"""Loading a tokenizer by hub id or local folder, offline first, with a clear error."""

import os
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from ligo.base.errors import UserError

# A real vocabulary is far larger; transformers 5 silently builds a 5-token tokenizer
# from some malformed inputs, which would map every word to [UNK].
MIN_VOCAB_SIZE = 100
# Any of these in a model folder: it holds its tokenizer (save_pretrained's files, or a bare vocabulary).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")


def holds_tokenizer(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_file() for name in TOKENIZER_FILES)


def tokenizer_tag(name_or_path: str) -> str:
    """The tokenizer's name as it appears in data file names (``en.train.raw.<tag>.hdf5``):
    a local folder's own name, or the hub id with '/' replaced by '_'."""
    path = Path(name_or_path)
    if path.is_dir():
        return path.resolve().name
    return name_or_path.replace("/", "_")


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """Load a fast tokenizer from a local folder, else from the Hugging Face cache, else
    (unless HF_HUB_OFFLINE is set) from the hub."""
    path = Path(name_or_path)
    if path.exists() and not path.is_dir():
        raise UserError(f"tokenizer '{name_or_path}' is a file; pass the folder that holds tokenizer.json")
    if path.is_dir():
        if not any(path.iterdir()):
            raise UserError(f"tokenizer folder '{name_or_path}' is empty; make one with "
                            "`python -m tokenization.train_tokenizer`")
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path))
        except (OSError, ValueError) as err:
            raise UserError(
                f"tokenizer folder '{name_or_path}' could not be loaded ({' '.join(str(err).split())}); "
                "make one with `python -m tokenization.train_tokenizer`"
            ) from None
    else:
        tokenizer = _load_from_hub(name_or_path)
    if not tokenizer.is_fast:
        raise UserError(f"tokenizer '{name_or_path}' has no fast (Rust) version; save one with tokenizer.json")
    if len(tokenizer) < MIN_VOCAB_SIZE:
        raise UserError(
            f"tokenizer '{name_or_path}' has only {len(tokenizer)} tokens; its vocabulary did not load, "
            "rebuild it with `python -m tokenization.train_tokenizer`"
        )
    return tokenizer


def _load_from_hub(name: str) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError):
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    if not offline:
        try:
            return AutoTokenizer.from_pretrained(name)
        except (OSError, ValueError):
            pass
    raise UserError(
        f"tokenizer '{name}' is not a local folder and is not in the Hugging Face cache"
        + ("" if offline else " or reachable on the hub")
        + "; pass a tokenizer folder (train one offline with `python -m tokenization.train_tokenizer`) "
        "or download it on a machine with network"
    )
