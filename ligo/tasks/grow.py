"""Write a grown model as a Hugging Face checkpoint, without training it.

    python -m ligo.grow --model_type bert --config_name configs/bert-12L-768H.json \
        --grow_scheme ligo --pretrained_ligo_path runs/ligo --output_dir runs/bert-base-grown
    python -m ligo.grow --model_type bert --config_name configs/bert-12L-768H.json \
        --grow_scheme bert2bert_fpi --source_model_path runs/bert-small --output_dir runs/bert-base-fpi

The folder loads with ``AutoModelForMaskedLM.from_pretrained`` (GPT-2: ``AutoModelForCausalLM``; it is what
``run_lm_distributed.py --grow_scheme ...`` starts from).
"""

import argparse
import shutil
from pathlib import Path

import transformers

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.output_lock import claim_beside
from ligo.data.tokenizer import load_tokenizer
from ligo.growth.schemes import BASELINES
from ligo.models.families import MODEL_TYPES
from ligo.models.loading import check_tokenizer_fits, load_config
from ligo.tasks.lm import grown_model


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m ligo.grow", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_type", required=True, choices=MODEL_TYPES)
    parser.add_argument("--config_name", required=True, help="the large model's config JSON")
    parser.add_argument("--grow_scheme", required=True, choices=["ligo", *BASELINES])
    parser.add_argument("--source_model_path", nargs="*", help="the small model (required except for ligo)")
    parser.add_argument("--pretrained_ligo_path", help="output_dir of run_grow_distributed.py (for ligo)")
    parser.add_argument("--tokenizer_name", help="saved beside the model, if given")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seed", type=int, default=95, help="for the random parts (direct copy, selections)")
    parser.add_argument("--cache_dir")
    return parser


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.seed < 0:
        raise UserError(f"--seed must not be negative, got {args.seed}")
    output_dir = Path(args.output_dir)
    check_empty(output_dir)
    transformers.utils.logging.disable_progress_bar()
    config = load_config(args.model_type, args.config_name, args.cache_dir)
    tokenizer = None
    if args.tokenizer_name:  # checked before growing: a bad one must not leave a model without its tokenizer
        tokenizer = load_tokenizer(args.tokenizer_name)
        check_tokenizer_fits(config, tokenizer, args.config_name, args.tokenizer_name)
    model = grown_model(args, config)
    # One grow into a folder at a time (ligo/base/output_lock.py), taken once everything is
    # checked and grown: a refused input leaves nothing behind.
    with claim_beside(output_dir, "python -m ligo.grow"):
        check_empty(output_dir)  # again: another grow may have finished into it meanwhile
        save(model, tokenizer, output_dir)
    print(f"wrote the {args.grow_scheme}-grown {config.num_hidden_layers}L-{config.hidden_size}H model to {output_dir}")


def check_empty(output_dir: Path):
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise UserError(f"--output_dir '{output_dir}' is not an empty folder; choose a new folder")


def save(model, tokenizer, output_dir: Path):
    """Written beside ``output_dir`` and renamed: the folder appears complete or not at all."""
    output_dir = output_dir.absolute()  # "." has no name to put beside
    partial = output_dir.with_name(f".{output_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        model.save_pretrained(str(partial))
        if tokenizer is not None:
            tokenizer.save_pretrained(str(partial))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if output_dir.exists():
        output_dir.rmdir()  # empty, as checked
    partial.rename(output_dir)


if __name__ == "__main__":
    main()
