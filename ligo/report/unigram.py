"""How far a masked-LM run is below the loss of a model that ignores context.

    python -m ligo.report.unigram --config configs/bert_mini_table1.txt --scratch runs/mini/scratch

A model that predicts every masked token from the training text's token frequencies alone
scores the unigram entropy of those tokens (in nats, special tokens left out, as masking
never picks them). A run whose eval loss sits near it has barely begun to use context; the
miniature Table 1 reports the margin in its RUN.md. Prints one Markdown list item.
"""

from pathlib import Path

import configargparse
import h5py
import numpy as np

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.data.dataset import ID_SCAN_BLOCK, token_file
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
from ligo.report.runs import load_rows


def unigram_entropy(tokens_path: Path, vocab_size: int, special_ids) -> float:
    """Entropy in nats of the token distribution of an HDF5 token file (tokenization's ``tokens``)."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    with h5py.File(tokens_path, "r") as f:
        tokens = f["tokens"]
        for start in range(0, len(tokens), ID_SCAN_BLOCK):
            counts += np.bincount(tokens[start:start + ID_SCAN_BLOCK], minlength=vocab_size)[:vocab_size]
    counts[list(special_ids)] = 0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def config_values(path: str, keys) -> dict:
    with open(path, encoding="utf-8") as f:
        items = configargparse.DefaultConfigFileParser().parse(f)
    return {key: items.get(key) for key in keys}


@exit_on_user_error
def main(argv=None):
    parser = OneLineParser(prog="python -m ligo.report.unigram", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="a training config file: its tokenizer_name and train_data_file")
    parser.add_argument("--tokenizer_name", help="overrides the config's")
    parser.add_argument("--train_data_file", help="overrides the config's")
    parser.add_argument("--scratch", required=True, metavar="RUN_DIR", help="the run whose final eval loss is compared")
    args = parser.parse_args(argv)
    if args.config and not Path(args.config).is_file():
        raise UserError(f"--config '{args.config}' is not a file; pass a training config file")
    values = config_values(args.config, ("tokenizer_name", "train_data_file")) if args.config else {}
    tokenizer_name = args.tokenizer_name or values.get("tokenizer_name")
    train_file = args.train_data_file or values.get("train_data_file")
    if not tokenizer_name or not train_file:
        raise UserError("give --config with tokenizer_name and train_data_file, or --tokenizer_name and "
                        "--train_data_file")
    tokenizer = load_tokenizer(tokenizer_name)
    path = token_file(train_file, tokenizer_tag(tokenizer_name))
    if not path.is_file():
        raise UserError(f"{path} does not exist; tokenise {train_file} with {tokenizer_name} first")
    entropy = unigram_entropy(path, len(tokenizer), tokenizer.all_special_ids)
    losses = [row["eval_loss"] for row in load_rows(args.scratch) if isinstance(row.get("eval_loss"), (int, float))]
    if not losses:
        raise UserError(f"{args.scratch} logged no eval_loss; train it with --do_eval")
    margin = entropy - losses[-1]
    print(f"- unigram entropy of the training tokens ({path.name}): {entropy:.4f} nats; the scratch run's final "
          f"eval loss {losses[-1]:.4f} is {abs(margin):.4f} nat {'below' if margin >= 0 else 'above'} it")


if __name__ == "__main__":
    main()
