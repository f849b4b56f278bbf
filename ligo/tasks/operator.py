"""What run_grow_distributed.py trains: a LiGO operator from the small model to the large."""

from pathlib import Path

from ligo.errors import UserError
from ligo.growth.grown_model import OperatorTask
from ligo.growth.operator import LiGOOperator, LiGOOptions
from ligo.models.families import check_growable
from ligo.tasks.source_model import load_source_model


def build_operator_task(args, config, resume_from: Path | None) -> OperatorTask:
    if not (args.tune_depth or args.tune_width or args.tune_small_model or args.tune_residual):
        raise UserError("nothing to learn: pass --tune_depth and/or --tune_width (the paper tunes both)")
    if resume_from is not None:
        operator = LiGOOperator.load(resume_from)
    else:
        small = load_source_model(args)
        check_growable(small.config, config, args.source_model_path[0], args.config_name)  # names both models
        operator = LiGOOperator(small.state_dict(), small.config, config, LiGOOptions.from_args(args), seed=args.seed)
    return OperatorTask(operator, config)
