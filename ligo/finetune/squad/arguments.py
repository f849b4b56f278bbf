"""The command line of run_squad.py: the shared fine-tuning flags (ligo/finetune/arguments.py)
with the paper's SQuAD recipe as defaults (2 epochs, learning rate 5e-5, batch 12, seeds 1 2 3)
and the standard pipeline's (windows of 384 tokens with a stride of 128, 20 best start and end
scores, answers of at most 30 tokens, the null answer when it beats the best span)."""

from pathlib import Path

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError
from ligo.finetune.arguments import check_finetune_args, finetune_parser
from ligo.finetune.squad.data import VERSIONS


def build_squad_parser() -> OneLineParser:
    parser = finetune_parser("run_squad.py", "Fine-tune a pretrained model on SQuAD v1.1 and v2.0 and fill its "
                                             "SQuAD cells in a results table.", epochs=2.0, learning_rate=5e-5,
                             train_batch=12, max_seq_length=384, output_files="per-seed results and squad_results.json",
                             table="squad_table.md")
    parser.add_argument("--squad_dir", help="folder holding SQuAD's official train-v1.1.json, dev-v1.1.json, "
                                            "train-v2.0.json and dev-v2.0.json")
    parser.add_argument("--versions", nargs="+", default=list(VERSIONS), help="SQuAD versions to run: 1.1 2.0")
    parser.add_argument("--doc_stride", type=int, default=128, help="tokens shared by consecutive context windows")
    parser.add_argument("--n_best_size", type=int, default=20, help="best start and end scores paired into spans")
    parser.add_argument("--max_answer_length", type=int, default=30, help="longest answer, in tokens")
    parser.add_argument("--null_score_diff_threshold", type=float, default=0.0,
                        help="v2.0: no answer when the null score beats the best span by more than this")
    return parser


def parse_squad_args(argv=None):
    args = build_squad_parser().parse_args(argv)  # checks the --config files first
    check_squad_args(args)
    return args


def check_squad_args(args):
    if not args.squad_dir:
        raise UserError("--squad_dir is required; see `python run_squad.py --help`")
    check_finetune_args(args, "run_squad.py", 8, "a question, a context token and the special tokens")
    unknown = [v for v in args.versions if v not in VERSIONS]
    if unknown or len(set(args.versions)) != len(args.versions):
        raise UserError(f"--versions {' '.join(args.versions)}: give each of {' '.join(VERSIONS)} at most once")
    if not 0 <= args.doc_stride < args.max_seq_length // 2:
        raise UserError(f"--doc_stride {args.doc_stride} must be at least 0 and below half of --max_seq_length "
                        f"{args.max_seq_length}, or windows would not advance")
    for name in ("n_best_size", "max_answer_length"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not Path(args.squad_dir).is_dir():
        raise UserError(f"--squad_dir '{args.squad_dir}' does not exist; pass the folder that holds SQuAD's JSON files")
