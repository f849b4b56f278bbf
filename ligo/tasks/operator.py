"""What run_grow_distributed.py trains: a LiGO operator from the small model to the large, by the
training loss of the large model it grows."""

from pathlib import Path

from torch import nn
from transformers import PretrainedConfig

from ligo.base.errors import UserError
from ligo.growth.grown_model import GrownModel, operator_step_flops
from ligo.growth.operator import WEIGHTS_FILE, LiGOOperator, LiGOOptions
from ligo.growth.schemes import TRAINING_METHODS
from ligo.models import families
from ligo.models.families import check_growable, family_of
from ligo.models.target_config import target_name
from ligo.tasks.source_model import load_source_model
from ligo.training import sharded_checkpoint
from ligo.training.distributed import on_main
from ligo.training.optim import parameter_groups


class OperatorTask:
    """Train a growth operator by the training loss of the large model it grows (its family's)."""

    unused_parameters = False
    deferred = None  # built whole on every rank (FSDP then shards it)

    def __init__(self, operator: nn.Module, large_config: PretrainedConfig, per_layer: bool = False):
        self.operator = operator
        self.module = GrownModel(operator, large_config, per_layer)
        self.large_config = large_config
        self.family = family_of(large_config.model_type)
        self._operator_flops = operator_step_flops(operator)

    def parameter_groups(self, args) -> list[dict]:
        groups = []
        learned = [p for name, p in self.operator.named_parameters()
                   if p.requires_grad and name.split(".")[0] in ("depth", "width")]
        groups.append({"params": learned, "weight_decay": args.weight_decay})
        residual = [p for p in self.operator.residual.parameters() if p.requires_grad]
        groups.append({"params": residual, "lr": args.learning_rate_res or args.learning_rate,
                       "weight_decay": args.weight_decay if args.weight_decay_res is None else args.weight_decay_res})
        small = [(name, p) for name, p in self.operator.named_parameters() if name.startswith("small_")]
        groups += parameter_groups(small, args.weight_decay)
        return groups

    def sharding_units(self) -> list[nn.Module]:
        return []  # the operator's parameters are stacked over the large layers: one unit, the root

    def begin_step(self, step: int):
        pass

    def loss(self, model, batch: dict):
        return self.family.run_batch(model, batch).loss

    def training_objects(self) -> dict:
        return {}

    def to(self, device):
        self.module.to(device)

    def train_flops(self, batch_size: int, seq_len: int) -> int:
        # The large model's step plus computing its weights (the operator's own cost).
        return batch_size * families.train_flops(self.large_config, seq_len) + self._operator_flops

    def eval_model(self):
        return self.module

    def save(self, folder):
        self.operator.save(folder)
        self.large_config.save_pretrained(str(folder))

    def save_sharded(self, folder: Path, ctx):
        """Every rank of an FSDP run: the operator's shards, joined into its file by rank 0."""
        sharded_checkpoint.save_weights(self.operator, folder, ctx, WEIGHTS_FILE)

        def settings():
            self.operator.save_settings(folder)
            self.large_config.save_pretrained(str(folder))

        on_main(ctx, "writing the operator's settings", settings)


def check_operator_args(args):
    """What operator training refuses, before anything is written (run_grow_distributed.py)."""
    pretraining_only = [flag for flag, on in [("--layer_drop", args.layer_drop), ("--token_drop", args.token_drop),
                                              (f"--grow_scheme {args.grow_scheme}",
                                               args.grow_scheme in TRAINING_METHODS)]
                        if on]
    if pretraining_only:
        raise UserError(f"{', '.join(pretraining_only)}: a method of pretraining (run_lm_distributed.py), not of "
                        "operator training; remove it here and pass it to run_lm_distributed.py")
    if args.gradient_checkpointing and args.operator_growth == "whole":
        raise UserError("--gradient_checkpointing with --operator_growth whole: the operator step recomputes each "
                        "layer (its growth too) only when grown per layer; drop --operator_growth whole")
    if not (args.tune_depth or args.tune_width or args.tune_small_model or args.tune_residual):
        raise UserError("nothing to learn: pass --tune_depth and/or --tune_width (the paper tunes both)")


def build_operator_task(args, config, resume_from: Path | None, tokenizer=None) -> OperatorTask:
    """``tokenizer``: the run's (None for images), checked against the source's vocabulary; the loss
    does not need it (the large model's plain training loss)."""
    check_operator_args(args)
    if resume_from is not None:
        operator = LiGOOperator.load(resume_from)
    else:
        small = load_source_model(args, tokenizer)  # the run's tokenizer must be the source's vocabulary
        check_growable(small.config, config, args.source_model_path[0], target_name(args),  # names both models
                       args.allow_config_mismatch)
        operator = LiGOOperator(small.state_dict(), small.config, config, LiGOOptions.from_args(args), seed=args.seed)
    return OperatorTask(operator, config, per_layer=operator_growth(args) == "per_layer")


def operator_growth(args) -> str:
    """--operator_growth, or its default: per layer where FSDP shards the run or activations are
    recomputed (memory is why one asks for either), whole otherwise (faster)."""
    return args.operator_growth or ("per_layer" if args.data_parallel == "fsdp" or args.gradient_checkpointing
                                    else "whole")
