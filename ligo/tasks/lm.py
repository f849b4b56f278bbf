"""What run_lm_distributed.py trains: a masked-LM model, new, loaded, resumed or grown."""

from pathlib import Path

from ligo.training import checkpoint

from ligo.errors import UserError
from ligo.growth.baselines import BASELINES, grow_baseline
from ligo.growth.grown_model import materialize
from ligo.growth.operator import LiGOOperator
from ligo.models import families
from ligo.models.families import check_growable
from ligo.models.loading import load_model, new_model
from ligo.tasks.source_model import load_source_model
from ligo.training.optim import parameter_groups


class MaskedLMTask:
    """Train a Hugging Face masked-LM model itself."""

    def __init__(self, model):
        self.module = model

    def parameter_groups(self, args) -> list[dict]:
        return parameter_groups(self.module.named_parameters(), args.weight_decay)

    def train_flops(self, batch_size: int, seq_len: int) -> int:
        return batch_size * families.train_flops(self.module.config, seq_len)

    def eval_model(self):
        return self.module

    def save(self, folder: Path):
        self.module.save_pretrained(str(folder))


def latest_operator(args) -> LiGOOperator:
    if not args.pretrained_ligo_path:
        raise UserError("--grow_scheme ligo needs --pretrained_ligo_path: the output_dir of run_grow_distributed.py")
    if checkpoint.NAME.match(Path(args.pretrained_ligo_path).name):
        # One checkpoint of an operator run, e.g. checkpoint-00000000: its initialisation alone.
        return LiGOOperator.load(Path(args.pretrained_ligo_path))
    folder = checkpoint.latest_checkpoint(args.pretrained_ligo_path)
    if folder is None:
        raise UserError(f"--pretrained_ligo_path '{args.pretrained_ligo_path}' holds no checkpoint; "
                        "train the operator with run_grow_distributed.py first")
    return LiGOOperator.load(folder)


def check_operator_fits(operator: LiGOOperator, config, args, small_config=None):
    fields = ("num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads", "vocab_size")
    for which, expected, name in [(operator.large_config, config, f"--config_name {args.config_name}"),
                                  (operator.small_config, small_config, "--source_model_path")]:
        if expected is None:
            continue
        differing = [f"{f} {getattr(which, f)} vs {getattr(expected, f)}" for f in fields
                     if getattr(which, f) != getattr(expected, f)]
        if differing:
            raise UserError(f"the LiGO operator in '{args.pretrained_ligo_path}' was trained for other model sizes "
                            f"than {name} ({'; '.join(differing)}); train an operator for these models")


def grown_model(args, config):
    if args.grow_scheme == "ligo":
        operator = latest_operator(args)
        small_config = load_source_model(args).config if args.source_model_path else None
        check_operator_fits(operator, config, args, small_config)
        return materialize(operator(), config, args.seed)
    small = load_source_model(args)
    check_growable(small.config, config, args.source_model_path[0], args.config_name)
    return materialize(grow_baseline(args.grow_scheme, small.state_dict(), small.config, config, args.seed),
                       config, args.seed)


def build_lm_task(args, config, resume_from: Path | None) -> MaskedLMTask:
    if resume_from is not None:
        model = load_model(args.model_type, str(resume_from), cache_dir=args.cache_dir)
    elif args.grow_scheme != "none":
        if args.grow_scheme not in ("ligo", *BASELINES):
            raise UserError(f"--grow_scheme {args.grow_scheme} is not one of none, ligo, {', '.join(BASELINES)}")
        model = grown_model(args, config)
    elif args.model_name_or_path:
        model = load_model(args.model_type, args.model_name_or_path, config=config, cache_dir=args.cache_dir)
    else:
        model = new_model(args.model_type, config, args.seed)
    return MaskedLMTask(model)
