"""Train a tokenizer offline and save it in the Hugging Face format.

    python -m tokenization.train_tokenizer --kind bert-uncased --input data/wiki-cased/en.train.raw \
        --vocab_size 8000 --output_dir data/tokenizers/bert-wiki-uncased-8k

Kinds: ``bert-uncased`` / ``bert-cased`` (WordPiece, as bert-base-[un]cased), ``roberta``
(byte-level BPE, as roberta-base), ``gpt2`` (byte-level BPE, as gpt2: one special token,
``<|endoftext|>``, its bos, eos and unk, and no padding token; the trainer gives it id 0, not
GPT-2's last id, 50256, since a trained vocabulary has another size) and ``llama`` (byte-level
BPE, as Llama 3 and SmolLM: ``<unk>``, ``<s>`` and ``</s>`` at ids 0-2, its unk, bos and eos, no
padding token; it adds no token itself: the data pipeline frames a document with the family's).
The same text gives the same files, byte for byte (WordPiece: see tokenization/wordpiece.py). The folder loads with
``AutoTokenizer.from_pretrained(dir)`` and can be passed wherever a tokenizer name is
expected (``--tokenizer_name``, the tokenisation scripts).
"""

import argparse
import codecs
import shutil
from pathlib import Path

from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer
from transformers import (
    BertTokenizerFast,
    GPT2TokenizerFast,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    RobertaTokenizerFast,
)

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.output_lock import claim_beside
from tokenization.wordpiece import count_words, learn_vocabulary

KINDS = ("bert-uncased", "bert-cased", "roberta", "gpt2", "llama")
BERT_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
GPT2_END_OF_TEXT = "<|endoftext|>"
LLAMA_SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]  # unk, bos, eos


def train_tokenizer(
    kind: str, input_files: list[Path], vocab_size: int, min_frequency: int = 2, model_max_length: int = 512
) -> PreTrainedTokenizerBase:
    if kind not in KINDS:
        raise UserError(f"tokenizer kind '{kind}' is not one of {', '.join(KINDS)}")
    if vocab_size < 300:
        raise UserError(f"--vocab_size {vocab_size} is too small; the byte alphabet alone needs 256, use >= 1000")
    for path in input_files:
        if path.is_dir():
            raise UserError(f"training text '{path}' is a folder; pass the text file(s) in it, e.g. "
                            f"{path}/en.train.raw")
        if not path.is_file() or path.stat().st_size == 0:
            raise UserError(f"training text '{path}' is missing or empty; prepare the data first")
    if kind == "roberta":
        backend = ByteLevelBPETokenizer()
        _train(backend, input_files, vocab_size=vocab_size, min_frequency=min_frequency,
               special_tokens=ROBERTA_SPECIAL_TOKENS)
        tokenizer = RobertaTokenizerFast(tokenizer_object=backend._tokenizer, model_max_length=model_max_length)
    elif kind == "gpt2":
        backend = ByteLevelBPETokenizer(add_prefix_space=False)  # GPT-2's: a line's first word has no space
        _train(backend, input_files, vocab_size=vocab_size, min_frequency=min_frequency,
               special_tokens=[GPT2_END_OF_TEXT])
        tokenizer = GPT2TokenizerFast(tokenizer_object=backend._tokenizer, bos_token=GPT2_END_OF_TEXT,
                                      eos_token=GPT2_END_OF_TEXT, unk_token=GPT2_END_OF_TEXT,
                                      model_max_length=model_max_length)
    elif kind == "llama":
        backend = ByteLevelBPETokenizer(add_prefix_space=False)
        _train(backend, input_files, vocab_size=vocab_size, min_frequency=min_frequency,
               special_tokens=LLAMA_SPECIAL_TOKENS)
        unk, bos, eos = LLAMA_SPECIAL_TOKENS
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend._tokenizer, unk_token=unk, bos_token=bos,
                                            eos_token=eos, model_max_length=model_max_length)
    else:
        uncased = kind == "bert-uncased"
        # bert-base-uncased lower-cases and strips accents; bert-base-cased does neither.
        normalizing = BertWordPieceTokenizer(lowercase=uncased, strip_accents=uncased, clean_text=True)._tokenizer
        words = count_words(_lines(input_files), normalizing.normalizer, normalizing.pre_tokenizer)
        vocab = learn_vocabulary(words, vocab_size, BERT_SPECIAL_TOKENS, min_frequency)
        backend = BertWordPieceTokenizer({token: i for i, token in enumerate(vocab)}, lowercase=uncased,
                                         strip_accents=uncased, clean_text=True)
        tokenizer = BertTokenizerFast(
            tokenizer_object=backend._tokenizer, do_lower_case=uncased, model_max_length=model_max_length
        )
    return tokenizer


def _train(backend, input_files: list[Path], **settings):
    try:
        backend.train([str(p) for p in input_files], **settings)
    except Exception:  # the Rust trainer raises a bare Exception
        bad = next((p for p in input_files if not _is_utf8(p)), None)
        if bad is None:
            raise
        raise UserError(f"training text '{bad}' is not UTF-8 text; convert it to UTF-8 (e.g. `iconv -t UTF-8`) "
                        "or pass the prepared .raw text") from None


def _lines(input_files: list[Path]):
    for path in input_files:
        try:
            with path.open(encoding="utf-8") as f:
                yield from f
        except UnicodeDecodeError:
            raise UserError(f"training text '{path}' is not UTF-8 text; convert it to UTF-8 (e.g. `iconv -t UTF-8`) "
                            "or pass the prepared .raw text") from None


def _is_utf8(path: Path) -> bool:
    """Whether the whole file decodes as UTF-8 (read in blocks: only after training failed)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def check_output_dir(output_dir: Path, overwrite: bool):
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output_dir '{output_dir}' is a file; pass a folder (it receives the tokenizer)")
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite:
        raise UserError(f"--output_dir '{output_dir}' is not empty; pass --overwrite to replace it")


@exit_on_user_error
def main():
    parser = OneLineParser(prog="python -m tokenization.train_tokenizer", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--input", required=True, nargs="+", type=Path, help="plain text file(s), one line each")
    parser.add_argument("--output_dir", required=True, type=Path)
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument("--min_frequency", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output_dir")
    args = parser.parse_args()

    if args.min_frequency < 0:
        raise UserError(f"--min_frequency must not be negative, got {args.min_frequency}")
    check_output_dir(args.output_dir, args.overwrite)
    tokenizer = train_tokenizer(args.kind, args.input, args.vocab_size, args.min_frequency)
    # One writer at a time (ligo/base/output_lock.py); checked again under the lock.
    with claim_beside(args.output_dir, "tokenization/train_tokenizer.py"):
        check_output_dir(args.output_dir, args.overwrite)
        # Saved beside the target and renamed, so a crash never leaves half a tokenizer.
        output_dir = args.output_dir.absolute()
        partial = output_dir.with_name(output_dir.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        tokenizer.save_pretrained(str(partial))
        shutil.rmtree(output_dir, ignore_errors=True)
        partial.rename(output_dir)
    print(f"saved a {args.kind} tokenizer with {len(tokenizer)} tokens to {args.output_dir}")


if __name__ == "__main__":
    main()
