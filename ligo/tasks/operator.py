"""What run_grow_distributed.py trains: a LiGO operator from the small model to the large."""

from pathlib import Path

from ligo.errors import UserError
from ligo.growth.grown_model import OperatorTask
from ligo.growth.operator import LiGOOperator, LiGOOptions
from ligo.models.families import check_growable
from ligo.tasks.source_model import load_source_model


def build_operator_task(args, config, resume_from: Path | None, tokenizer=None) -> OperatorTask:
    """``tokenizer`` is not needed: the operator's loss is the large model's plain training loss."""
    pretraining_only = [flag for flag, on in [("--layer_drop", args.layer_drop), ("--token_drop", args.token_drop),
                                              (f"--grow_scheme {args.grow_scheme}", args.grow_scheme in ("ki", "mslt"))]
                        if on]
    if pretraining_only:
        raise UserError(f"{', '.join(pretraining_only)}: a method of pretraining (run_lm_distributed.py), not of "
                        "operator training; remove it here and pass it to run_lm_distributed.py")
    if not (args.tune_depth or args.tune_width or args.tune_small_model or args.tune_residual):
        raise UserError("nothing to learn: pass --tune_depth and/or --tune_width (the paper tunes both)")
    if resume_from is not None:
        operator = LiGOOperator.load(resume_from)
    else:
        small = load_source_model(args)
        check_growable(small.config, config, args.source_model_path[0], args.config_name)  # names both models
        operator = LiGOOperator(small.state_dict(), small.config, config, LiGOOptions.from_args(args), seed=args.seed)
    return OperatorTask(operator, config)
