"""The command-line flags run_glue.py and run_squad.py share (model, optimiser, seeds,
precision, the results table) and their checks; each script adds its own and its defaults.

``--config FILE`` reads ``name = value`` lines (lists as ``seeds = [1, 2, 3]``); flags on
the command line override them. Every mistake, argparse's own included, is one line.
"""

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError
from ligo.base.flag_checks import check_adam_epsilon, check_finite


def finetune_parser(script: str, description: str, *, epochs: float, learning_rate: float, train_batch: int,
                    max_seq_length: int, output_files: str, table: str) -> OneLineParser:
    """The shared flags with the script's defaults (the paper's recipe for its benchmark)."""
    parser = OneLineParser(prog=script, description=description)
    parser.add_argument("--config", is_config_file=True, help="config file of `name = value` lines")
    parser.add_argument("--model_name_or_path", help="a training run's --output_dir (its latest checkpoint), a "
                                                     "checkpoint folder, or a Hugging Face model id (cache first)")
    parser.add_argument("--tokenizer_name", help="tokenizer folder or hub id (default: the model's folder)")
    parser.add_argument("--output_dir", help=f"where {output_files} go")
    parser.add_argument("--overwrite_output_dir", action="store_true",
                        help="replace the results already in --output_dir")
    parser.add_argument("--num_train_epochs", type=float, default=epochs, help="epochs per task")
    parser.add_argument("--max_steps", type=int, default=-1,
                        help="cap on optimiser steps per task and seed, for smoke runs (-1: no cap)")
    parser.add_argument("--learning_rate", type=float, default=learning_rate, help="peak learning rate of AdamW")
    parser.add_argument("--per_device_train_batch_size", type=int, default=train_batch, help="training batch size")
    parser.add_argument("--per_device_eval_batch_size", type=int, default=64, help="evaluation batch size")
    parser.add_argument("--max_seq_length", type=int, default=max_seq_length, help="tokens per input, truncated")
    parser.add_argument("--warmup_ratio", type=float, default=0.1,
                        help="linear warm-up over this share of the steps, then linear decay to 0")
    parser.add_argument("--weight_decay", type=float, default=0.01,
                        help="AdamW weight decay (not on biases, LayerNorm)")
    parser.add_argument("--adam_epsilon", type=float, default=1e-6, help="AdamW epsilon")
    parser.add_argument("--max_grad_norm", type=float, default=1.0, help="gradient clipping norm (0: no clipping)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3],
                        help="one fine-tuning run per seed; the table shows the mean")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CUDA only)")
    parser.add_argument("--fp16", action="store_true", help="float16 autocast with loss scaling (CUDA only)")
    parser.add_argument("--results_table", help=f"Markdown results table to add the row to (default: "
                                                f"<output_dir>/{table}); a .csv is kept beside it")
    parser.add_argument("--name", help="the row's label in the table, e.g. LiGO (default: the model folder's name)")
    return parser


def check_finetune_args(args, script: str, min_seq_length: int, why: str):
    """Refuse values that cannot work, naming the flag, the value and the fix."""
    check_finite(args)
    for name in ("model_name_or_path", "output_dir"):
        if not getattr(args, name):
            raise UserError(f"--{name} is required; see `python {script} --help`")
    for name in ("per_device_train_batch_size", "per_device_eval_batch_size"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not args.num_train_epochs > 0:
        raise UserError(f"--num_train_epochs must be positive, got {args.num_train_epochs:g}")
    if args.max_steps == 0 or args.max_steps < -1:
        raise UserError(f"--max_steps must be at least 1 (or -1 for no cap), got {args.max_steps}")
    if args.max_seq_length < min_seq_length:
        raise UserError(f"--max_seq_length must be at least {min_seq_length} ({why}), got {args.max_seq_length}")
    if not args.learning_rate > 0:
        raise UserError(f"--learning_rate must be positive, got {args.learning_rate:g}")
    if not 0.0 <= args.warmup_ratio < 1.0:
        raise UserError(f"--warmup_ratio must be in [0, 1), got {args.warmup_ratio:g}")
    check_adam_epsilon(args.adam_epsilon)
    for name in ("weight_decay", "max_grad_norm"):
        if getattr(args, name) < 0:
            raise UserError(f"--{name} must not be negative, got {getattr(args, name):g}")
    if any(not 0 <= seed < 2**32 for seed in args.seeds):
        raise UserError(f"--seeds {' '.join(map(str, args.seeds))}: a seed must be in [0, 2**32), as numpy's are")
    if len(set(args.seeds)) != len(args.seeds):
        raise UserError(f"--seeds {' '.join(map(str, args.seeds))} repeats a seed; give each seed once")
    if args.fp16 and args.bf16:
        raise UserError("give --fp16 or --bf16, not both")
    if args.name is not None and (not args.name.strip() or any(c in args.name for c in "|\n\r")):
        raise UserError(f"--name {args.name!r} must be non-empty, on one line and without '|'")
