"""The command line of run_glue.py: the shared fine-tuning flags (ligo/finetune/arguments.py)
with the paper's GLUE recipe as defaults (3 epochs, learning rate 1e-4, batch 32, sequences of
at most 128 tokens, seeds 1 2 3; warm-up 10% of the steps, BERT's fine-tuning share), plus the
GLUE folder and tasks."""

from pathlib import Path

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError
from ligo.finetune.arguments import check_finetune_args, finetune_parser
from ligo.finetune.glue.tasks import TASKS


def build_glue_parser() -> OneLineParser:
    parser = finetune_parser("run_glue.py", "Fine-tune a pretrained model on GLUE tasks and append its row to a "
                                            "results table.", epochs=3.0, learning_rate=1e-4, train_batch=32,
                             max_seq_length=128, output_files="per-seed results and glue_results.json",
                             table="glue_table.md")
    parser.add_argument("--glue_dir", help="folder holding the GLUE task folders (CoLA, SST-2, MRPC, ...)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS),
                        help=f"tasks to run (default: all; MNLI gives MNLI-m and MNLI-mm): {' '.join(TASKS)}")
    return parser


def parse_glue_args(argv=None):
    args = build_glue_parser().parse_args(argv)  # checks the --config files first
    check_glue_args(args)
    return args


def check_glue_args(args):
    if not args.glue_dir:
        raise UserError("--glue_dir is required; see `python run_glue.py --help`")
    check_finetune_args(args, "run_glue.py", 4, "a pair and its special tokens")
    if not Path(args.glue_dir).is_dir():
        raise UserError(f"--glue_dir '{args.glue_dir}' does not exist; pass the folder that holds the GLUE task "
                        "folders (CoLA, SST-2, MRPC, ...)")
