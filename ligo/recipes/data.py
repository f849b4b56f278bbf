"""The miniatures' data stage: tokenizers and tokenised splits, each remade only when out of date,
and a summary of what a training run sees."""

import os
import sys
from pathlib import Path

from ligo.base.errors import UserError, exit_on_user_error
from ligo.recipes.runner import Environment, call, dispatch, take

USAGE = """usage: python -m ligo.recipes.data COMMAND [ARGS...]
  tokenizer KIND TEXT TOKENIZER   train a KIND tokenizer of VOCAB_SIZE (2000) tokens on TEXT/en.train.raw into
                                  TOKENIZER, unless it is newer than that file and of that size
  tokenise TEXT TOKENIZER         tokenise TEXT's train/valid/test with TOKENIZER, unless done since it changed
  summary TEXT TOKENIZER ...      tokens and blocks of each split, for each TEXT TOKENIZER pair"""


def vocab_size(env: Environment) -> int:
    # 2k, not 8k: on 540k tokens of text an 8k vocabulary keeps tiny models at the unigram plateau
    # for thousands of steps; with 2k they learn context within a miniature's budget.
    return env.number("VOCAB_SIZE", 2000, 1)


def newer(path: Path, than: Path) -> bool:
    """As bash's ``[ PATH -nt THAN ]``: PATH exists and THAN does not, or PATH was modified later."""
    return path.exists() and (not than.exists() or path.stat().st_mtime_ns > than.stat().st_mtime_ns)


def tokenizer(kind: str, text: str, folder: str):
    env = Environment()
    vocab = str(vocab_size(env))
    requested = Path(folder, "requested_vocab_size")
    if (Path(folder, "tokenizer.json").is_file() and newer(Path(folder, "tokenizer.json"), Path(text, "en.train.raw"))
            and requested.is_file() and requested.read_text(encoding="utf-8").rstrip("\n") == vocab):
        print(f"[mini] {folder} is up to date")
        return
    call([env.python(), "-m", "tokenization.train_tokenizer", "--kind", kind, "--input", f"{text}/en.train.raw",
          "--vocab_size", vocab, "--output_dir", folder, "--overwrite"])
    requested.write_text(f"{vocab}\n", encoding="utf-8")


def tokenise(text: str, folder: str):
    tag = os.path.basename(folder)
    tokenizer_file = Path(folder, "tokenizer.json")
    if all(newer(Path(text, f"en.{split}.raw.{tag}.hdf5"), tokenizer_file) for split in ("train", "test")):
        print(f"[mini] {text} is already tokenised with {tag}")
        return
    call(["bash", "tokenization/tokenize_splits.bash", text, folder])


def summary(pairs: list[str]):
    from ligo.data.dataset import BlockDataset  # loads torch: only this command needs it
    from ligo.data.tokenizer import load_tokenizer, tokenizer_tag

    if not pairs or len(pairs) % 2:
        raise UserError(f"summary takes TEXT TOKENIZER pairs, got: {' '.join(pairs) or 'nothing'}")
    for text, folder in zip(pairs[::2], pairs[1::2]):
        loaded = load_tokenizer(folder)
        for split in ("train", "valid", "test"):
            blocks = BlockDataset(f"{text}/en.{split}.raw", tokenizer_tag(folder), loaded, block_size=62)
            print(f"{text}/en.{split}.raw: {blocks.n_tokens:>8} tokens, {len(blocks):>5} blocks of 62+2 "
                  f"({tokenizer_tag(folder)})")


@exit_on_user_error
def main(argv: list[str] | None = None):
    argv = sys.argv[1:] if argv is None else argv
    dispatch({"tokenizer": lambda args: tokenizer(*take(args, "KIND", "TEXT", "TOKENIZER", flags=False)),
              "tokenise": lambda args: tokenise(*take(args, "TEXT", "TOKENIZER", flags=False)),
              "summary": summary}, argv, USAGE)


if __name__ == "__main__":
    main()
