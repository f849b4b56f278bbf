"""Write a grown model as a Hugging Face checkpoint, without training it.

    python -m ligo.grow --model_type bert --config_name configs/bert-12L-768H.json \
        --grow_scheme ligo --pretrained_ligo_path runs/ligo --output_dir runs/bert-base-grown
    python -m ligo.grow --model_type bert --config_name configs/bert-12L-768H.json \
        --grow_scheme bert2bert_fpi --source_model_path runs/bert-small --output_dir runs/bert-base-fpi
    python -m ligo.grow --model_type bert --target_layers 12 --target_hidden 768 \
        --grow_scheme bert2bert_fpi --source_model_path my-6L-384H-bert --output_dir runs/bert-12L-768H-fpi

The last derives the target from the source's config (its head size, activation, vocabulary...);
a --config_name target must keep every field of the source's but the sizes and dropout, unless
--allow_config_mismatch names the field.

The folder loads with ``AutoModelForMaskedLM.from_pretrained`` (GPT-2, Llama: ``AutoModelForCausalLM``; it is what
``run_lm_distributed.py --grow_scheme ...`` starts from).
"""

import argparse
import shutil
from pathlib import Path

import torch
import transformers
from transformers import AutoImageProcessor

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.output_lock import claim_beside
from ligo.data.tokenizer import load_tokenizer
from ligo.data.vocabulary import check_same_vocabulary, check_tokenizer_fits
from ligo.growth.schemes import BASELINES, check_grow_noise
from ligo.models.families import MODEL_TYPES, family_of
from ligo.models.target_config import load_target_config, target_name
from ligo.tasks.arguments import add_target_flags
from ligo.tasks.lm import grown_model, operator_checkpoint
from ligo.tasks.source_model import SOURCE_HEAD_HELP, SOURCE_HEADS, dtype_name, load_source, source_tokenizer
from ligo.training.checkpoint import resolve_model_path

SAVE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m ligo.grow", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_type", required=True, choices=MODEL_TYPES)
    parser.add_argument("--config_name", help="the large model's config JSON; or derive it from the source's config "
                                             "with the --target_* flags")
    add_target_flags(parser)
    parser.add_argument("--grow_scheme", required=True, choices=["ligo", *BASELINES])
    parser.add_argument("--source_model_path", nargs="*", help="the small model (required except for ligo)")
    parser.add_argument("--source_head", default="checkpoint", choices=SOURCE_HEADS, help=SOURCE_HEAD_HELP)
    parser.add_argument("--pretrained_ligo_path", help="output_dir of run_grow_distributed.py (for ligo)")
    parser.add_argument("--tokenizer_name", help="saved beside the model (default: the source's own, else the LiGO "
                                                 "operator's)")
    parser.add_argument("--dtype", choices=list(SAVE_DTYPES),
                        help="the saved model's dtype (default: the source's; grown in float32 whatever it is)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seed", type=int, default=95, help="for the random parts (direct copy, selections, noise)")
    parser.add_argument("--grow_noise", type=float, default=0.0,
                        help="net2net and bert2bert schemes: noise (a fraction of each weight's std) that splits a "
                             "copied unit's weights unevenly among its copies, keeping the function (HyperCloning)")
    parser.add_argument("--cache_dir")
    return parser


PROCESSOR_FILE = "preprocessor_config.json"


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.seed < 0:
        raise UserError(f"--seed must not be negative, got {args.seed}")
    check_grow_noise(args.grow_noise, args.grow_scheme)
    output_dir = Path(args.output_dir)
    check_empty(output_dir)
    transformers.utils.logging.disable_progress_bar()
    source = resolve_model_path(args.source_model_path[0]) if args.source_model_path else None
    config = load_target_config(args, source)  # --config_name's, or derived from the source's config
    small = load_source(args) if args.source_model_path or args.grow_scheme != "ligo" else None
    if family_of(args.model_type).is_language_model:
        tokenizer, tokenizer_name = source_or_given_tokenizer(args, config, source, small)
    else:  # an image model's processor travels instead: the source's, else the operator run's
        tokenizer = image_processor_of(source if source is not None else str(operator_checkpoint(args)))
    model = grown_model(args, config, small=small.model if small is not None else None)
    if family_of(args.model_type).is_language_model and (
            tokenizer is None or (args.grow_scheme == "ligo" and small is None)):
        tokenizer, tokenizer_name = operator_tokenizer(args, config, tokenizer, tokenizer_name)
    dtype = SAVE_DTYPES[args.dtype] if args.dtype else small.saved_dtype if small is not None else torch.float32
    if dtype != torch.float32 or (small is not None and small.saved_dtype != torch.float32):
        where = f"source is {dtype_name(small.saved_dtype)}: " if small is not None else ""
        print(f"{where}grown in float32, saved as {dtype_name(dtype)}")
    # One grow into a folder at a time (ligo/base/output_lock.py), taken once everything is
    # checked and grown: a refused input leaves nothing behind.
    with claim_beside(output_dir, "python -m ligo.grow"):
        check_empty(output_dir)  # again: another grow may have finished into it meanwhile
        save(model.to(dtype), tokenizer, output_dir)
    print(f"wrote the {args.grow_scheme}-grown {config.num_hidden_layers}L-{config.hidden_size}H model to {output_dir}")


def source_or_given_tokenizer(args, config, source: str | None, small):
    """The tokenizer the grown model travels with: --tokenizer_name's, else the source's own;
    checked before growing, so that a bad one costs no growth. None only for --grow_scheme ligo,
    whose operator's tokenizer is the last resort (``operator_tokenizer``)."""
    own = source_tokenizer(source) if source is not None else None
    if args.tokenizer_name:
        tokenizer, name = load_tokenizer(args.tokenizer_name), args.tokenizer_name
    elif own is not None:
        tokenizer, name = own, source
    elif args.grow_scheme == "ligo":
        return None, None
    else:
        raise UserError(f"no tokenizer to save with the grown model: source model '{source}' holds none and "
                        "--tokenizer_name is not given; pass the tokenizer the source was trained with as "
                        "--tokenizer_name")
    check_tokenizer_fits(config, tokenizer, target_name(args), name)
    if small is not None and tokenizer is not own:
        fix = (f"leave --tokenizer_name out to save the source's own (in '{source}') with the model" if own is not None
               else "pass the tokenizer the source was trained with as --tokenizer_name")
        check_same_vocabulary(tokenizer, name, small.model.config, source, own, fix)
    return tokenizer, name


def operator_tokenizer(args, config, tokenizer, tokenizer_name: str | None):
    """--grow_scheme ligo: the tokenizer the operator was trained with (its run's checkpoints hold
    it) where neither --tokenizer_name nor the source gives one; a given one without a source must
    be its vocabulary."""
    folder = str(operator_checkpoint(args))
    own = source_tokenizer(folder)
    if tokenizer is None and own is None:
        where = (f"source model '{args.source_model_path[0]}' and the LiGO operator checkpoint '{folder}' hold"
                 if args.source_model_path else f"the LiGO operator checkpoint '{folder}' holds")
        raise UserError(f"no tokenizer to save with the grown model: {where} none and --tokenizer_name is not given; "
                        "pass the tokenizer the source was trained with as --tokenizer_name")
    if tokenizer is None:
        check_tokenizer_fits(config, own, target_name(args), folder)
        return own, folder
    if own is not None:
        check_same_vocabulary(tokenizer, tokenizer_name, config, folder, own,
                              f"leave --tokenizer_name out to save the operator's own (in '{folder}') with the model")
    return tokenizer, tokenizer_name


def image_processor_of(folder: str):
    """The image processor a model folder holds (every image run's checkpoint holds its own); a
    folder without one is said, as the grown folder then has none either."""
    if not (Path(folder) / PROCESSOR_FILE).is_file():
        print(f"'{folder}' holds no image processor ({PROCESSOR_FILE}): the grown folder has none; "
              "AutoImageProcessor needs one to prepare images for it")
        return None
    return AutoImageProcessor.from_pretrained(folder)


def check_empty(output_dir: Path):
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise UserError(f"--output_dir '{output_dir}' is not an empty folder; choose a new folder")


def save(model, tokenizer, output_dir: Path):
    """Written beside ``output_dir`` and renamed: the folder appears complete or not at all; the
    model in its dtype, its tokenizer beside it."""
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
