"""What run_lm_distributed.py and run_image_distributed.py train: a model of any family, new,
loaded, resumed or grown (by LiGO or a baseline); optionally taught by the small model (KI) or
grown in stages (MSLT)."""

import contextlib
from pathlib import Path

import torch

from ligo.base.errors import UserError
from ligo.growth.baselines import BaselineGrowth, grow_baseline
from ligo.growth.grown_model import LayerByLayer, materialize
from ligo.growth.operator import LiGOOperator
from ligo.growth.schemes import GROW_SCHEMES
from ligo.models import families
from ligo.models.families import check_growable, family_of, space_sizes
from ligo.models.flops import BACKWARD_TO_FORWARD
from ligo.models.loading import empty_model, load_model, new_model, shard_readable
from ligo.models.target_config import target_name
from ligo.tasks.ki import KnowledgeInheritance
from ligo.tasks.mslt import MSLTSchedule, MSLTTask, stage_depths
from ligo.tasks.source_model import check_run_tokenizer, load_initial_model, load_source_model
from ligo.training import checkpoint, sharded_checkpoint
from ligo.training.layer_drop import LayerDrop, running_layers
from ligo.training.optim import parameter_groups
from ligo.training.sharding import Deferred, is_sharded
from ligo.training.token_drop import TokenDrop


class ModelTask:
    """Train a Hugging Face model itself, by its family's loss; optionally with progressive layer
    dropping, token dropping, or taught by a small model (Knowledge Inheritance)."""

    def __init__(self, model, layer_drop: LayerDrop | None = None, token_drop: TokenDrop | None = None,
                 inheritance: KnowledgeInheritance | None = None, deferred: Deferred | None = None):
        if layer_drop is not None and token_drop is not None:
            raise UserError("--layer_drop and --token_drop together are not supported (the layers that drop tokens "
                            "could themselves be dropped); use one")
        self.module = model
        self.config = model.config
        self.family = family_of(self.config.model_type)
        self.layer_drop, self.token_drop, self.inheritance = layer_drop, token_drop, inheritance
        self.deferred = deferred  # the model is on the meta device until the trainer shards and fills it
        self.unused_parameters = layer_drop is not None  # the skipped layers get no gradient
        self.step = 0
        self.plan = None  # the layers this step runs (layer dropping)

    def parameter_groups(self, args) -> list[dict]:
        return parameter_groups(self.module.named_parameters(), args.weight_decay)

    def begin_step(self, step: int):
        self.step = step
        if self.layer_drop is not None:
            self.plan = self.layer_drop.plan(step, self.config.num_hidden_layers)

    def loss(self, model, batch: dict):
        with contextlib.ExitStack() as stack:
            if self.plan is not None:
                stack.enter_context(running_layers(self.module, self.family.layers_path, self.plan))
            if self.token_drop is not None:
                layers = self.module.get_submodule(self.family.layers_path)
                stack.enter_context(self.token_drop.dropping(layers, batch))
            output = self.family.run_batch(model, batch)
        if self.token_drop is not None:
            self.token_drop.update(output.logits.detach(), batch["labels"])
        if self.inheritance is not None:
            return self.inheritance.loss(output, batch, self.step)
        return output.loss

    def train_flops(self, batch_size: int, seq_len: int) -> int:
        layers = self.config.num_hidden_layers
        if self.plan is None and self.token_drop is None:
            per_sequence = families.train_flops(self.config, seq_len)
        else:
            lengths = [seq_len if self.plan is None or kept else 0 for kept in (self.plan or [True] * layers)]
            if self.token_drop is not None:
                kept = self.token_drop.kept_length(seq_len)
                lengths = [kept if self.token_drop.start <= i < self.token_drop.end else n
                           for i, n in enumerate(lengths)]
            forward = families.forward_flops_of_layers(self.config, seq_len, lengths)
            per_sequence = (1 + BACKWARD_TO_FORWARD) * forward
        if self.inheritance is not None:
            per_sequence += self.inheritance.forward_flops(seq_len, self.step)
        return batch_size * per_sequence

    def eval_model(self):
        return self.module  # every layer, every token

    def training_objects(self) -> dict:
        return {"token_importance": self.token_drop} if self.token_drop is not None else {}

    def to(self, device: torch.device):
        if self.deferred is None:  # else the trainer gives each rank's shards their memory
            self.module.to(device)
        if self.token_drop is not None:
            self.token_drop.to(device)
        if self.inheritance is not None:
            self.inheritance.teacher.to(device)

    def save(self, folder: Path):
        self.module.save_pretrained(str(folder))

    def sharding_units(self) -> list:
        return list(self.module.get_submodule(self.family.layers_path))

    def save_sharded(self, folder: Path, ctx):
        sharded_checkpoint.save_model(self.module, folder, ctx)


def operator_checkpoint(args) -> Path:
    """The operator checkpoint --pretrained_ligo_path names (it holds the run's tokenizer too)."""
    if not args.pretrained_ligo_path:
        raise UserError("--grow_scheme ligo needs --pretrained_ligo_path: the output_dir of run_grow_distributed.py")
    if checkpoint.NAME.match(Path(args.pretrained_ligo_path).name):
        # One checkpoint of an operator run, e.g. checkpoint-00000000: its initialisation alone.
        return Path(args.pretrained_ligo_path)
    folder = checkpoint.latest_checkpoint(args.pretrained_ligo_path)
    if folder is None:
        raise UserError(f"--pretrained_ligo_path '{args.pretrained_ligo_path}' holds no checkpoint; "
                        "train the operator with run_grow_distributed.py first")
    return folder


def latest_operator(args) -> LiGOOperator:
    return LiGOOperator.load(operator_checkpoint(args))


def check_operator_fits(operator: LiGOOperator, config, args, small_config=None):
    family = family_of(config.model_type)
    fields = ("model_type", "num_hidden_layers", "hidden_size", "num_attention_heads", *family.shared_fields)
    target = f"--config_name {args.config_name}" if args.config_name is not None else target_name(args)
    for which, expected, name in [(operator.large_config, config, target),
                                  (operator.small_config, small_config, "--source_model_path")]:
        if expected is None:
            continue
        differing = [f"{f} {getattr(which, f, None)} vs {getattr(expected, f, None)}" for f in fields
                     if getattr(which, f, None) != getattr(expected, f, None)]
        if not differing and space_sizes(which)["ffn"] != space_sizes(expected)["ffn"]:
            differing = [f"FFN size {space_sizes(which)['ffn']} vs {space_sizes(expected)['ffn']}"]
        if differing:
            raise UserError(f"the LiGO operator in '{args.pretrained_ligo_path}' was trained for other model sizes "
                            f"than {name} ({'; '.join(differing)}); train an operator for these models")


def grown_model(args, config, small=None, tokenizer=None):
    """``small``: the source model if the caller loaded it, else it is loaded here; ``tokenizer``:
    a training run's, checked against the vocabulary of the source (or of the operator's source)."""
    return materialize(grown_parameters(args, config, small, tokenizer), config, args.seed)


def grown_parameters(args, config, small=None, tokenizer=None, layer_by_layer: bool = False):
    """Every parameter of the large model ``--grow_scheme`` grows (as ``grown_model``);
    ``layer_by_layer``: as a ``LayerByLayer`` (one layer computed at a time, for a sharded run to
    take its shards from), the same tensors."""
    if args.grow_scheme == "ligo":
        operator = latest_operator(args)
        if small is None and args.source_model_path:
            small = load_source_model(args, tokenizer)
        elif small is None and tokenizer is not None:
            check_run_tokenizer(args, tokenizer, operator.small_config, str(operator_checkpoint(args)))
        small_config = small.config if small is not None else None
        check_operator_fits(operator, config, args, small_config)
        # The sizes fit; the other fields of the target config must be the source's (the
        # operator's, without --source_model_path) as in operator training.
        source_name = args.source_model_path[0] if small_config is not None else "the LiGO operator's source model"
        check_growable(small_config or operator.small_config, config, source_name, target_name(args),
                       args.allow_config_mismatch)
        if layer_by_layer:
            return LayerByLayer(operator.grow_layer, operator.grow_outside_layers,
                                family_of(config.model_type).layers_path)
        with torch.no_grad():
            return operator()
    small = small if small is not None else load_source_model(args, tokenizer)
    check_growable(small.config, config, args.source_model_path[0], target_name(args), args.allow_config_mismatch)
    growth = BaselineGrowth(args.grow_scheme, small.state_dict(), small.config, config, args.seed, args.grow_noise)
    if layer_by_layer:
        return LayerByLayer(growth.grow_layer, growth.grow_outside_layers, family_of(config.model_type).layers_path)
    return growth.grow()


def build_lm_task(args, config, resume_from: Path | None, tokenizer=None):
    """``tokenizer``: for token dropping, which always keeps its special tokens."""
    if args.grow_scheme not in GROW_SCHEMES:
        raise UserError(f"--grow_scheme {args.grow_scheme} is not one of {', '.join(GROW_SCHEMES)}")
    if args.grow_scheme == "mslt":
        return build_mslt_task(args, config, resume_from, tokenizer)
    deferred = None
    if is_sharded(args):
        # Built on the meta device; each rank fills its own shards once sharded (the trainer).
        model = empty_model(args.model_type, config)
        if resume_from is not None:
            deferred = Deferred(args.seed, folder=resume_from)
        elif args.grow_scheme not in ("none", "ki"):
            deferred = Deferred(args.seed, tensors=grown_parameters(args, config, tokenizer=tokenizer,
                                                                    layer_by_layer=True))
        elif args.model_name_or_path:
            # Each rank reads its own slices of a folder that holds exactly this model's tensors;
            # any other (a hub id, another class of the family, a missing head) is read whole first.
            folder = shard_readable(args.model_type, args.model_name_or_path, config)
            deferred = (Deferred(args.seed, folder=folder) if folder is not None else
                        Deferred(args.seed, tensors=load_initial_model(args, config).state_dict()))
        else:
            deferred = Deferred(args.seed)
    elif resume_from is not None:
        model = load_model(args.model_type, str(resume_from), cache_dir=args.cache_dir)
    elif args.grow_scheme not in ("none", "ki"):
        model = grown_model(args, config, tokenizer=tokenizer)
    elif args.model_name_or_path:
        model = load_initial_model(args, config)
    else:
        model = new_model(args.model_type, config, args.seed)
    inheritance = None
    if args.grow_scheme == "ki":
        teacher = load_source_model(args, tokenizer)
        check_growable(teacher.config, config, args.source_model_path[0], target_name(args),
                       args.allow_config_mismatch)
        inheritance = KnowledgeInheritance.from_args(args, teacher)
    return ModelTask(recomputing(model, args), LayerDrop.from_args(args), TokenDrop.from_args(args, config, tokenizer),
                     inheritance, deferred)


def recomputing(model, args):
    """--gradient_checkpointing: Hugging Face's activation checkpointing on every layer of the
    family's model, non-reentrant (what FSDP2 and frozen layers need; torch's recommended mode): a
    layer's forward runs again in the backward, with the random state it first ran with, so
    dropout draws the same masks and the step computes what it would without."""
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    return model


def build_mslt_task(args, config, resume_from: Path | None, tokenizer=None) -> MSLTTask:
    if args.layer_drop or args.token_drop:
        raise UserError("--grow_scheme mslt trains stages of layers; it does not combine with --layer_drop or "
                        "--token_drop")
    small = load_source_model(args, tokenizer)
    check_growable(small.config, config, args.source_model_path[0], target_name(args), args.allow_config_mismatch)
    depths = stage_depths(args, small.config.num_hidden_layers, config.num_hidden_layers)
    schedule = MSLTSchedule(depths, args.mslt_stage_steps or [], args.max_steps)
    start_step = checkpoint.load_trainer_state(resume_from)["step"] if resume_from is not None else 0
    # Fresh: the source widened by direct copy (if the target is wider), stacked to the target's
    # depth; the stages then overwrite the layers above the source's.
    scheme = "stackbert_direct_copy" if small.config.hidden_size != config.hidden_size else "stackbert"
    if is_sharded(args):  # on the meta device; each rank fills its own shards once sharded (the trainer)
        if resume_from is not None:
            deferred = Deferred(args.seed, folder=resume_from)
        else:
            growth = BaselineGrowth(scheme, small.state_dict(), small.config, config, args.seed)
            copies = schedule.copies(0)  # the first stage's copies, made as each layer is grown
            prefix = f"{family_of(args.model_type).layers_path}."

            def grow_layer(j: int) -> dict[str, torch.Tensor]:
                source = copies.get(j, j)
                return {name.replace(f"{prefix}{source}.", f"{prefix}{j}.", 1): tensor
                        for name, tensor in growth.grow_layer(source).items()}

            deferred = Deferred(args.seed, tensors=LayerByLayer(grow_layer, growth.grow_outside_layers,
                                                                family_of(args.model_type).layers_path))
        return MSLTTask(recomputing(empty_model(args.model_type, config), args), schedule, start_step,
                        fresh=resume_from is None, deferred=deferred)
    if resume_from is not None:
        model = load_model(args.model_type, str(resume_from), cache_dir=args.cache_dir)
    else:
        model = materialize(grow_baseline(scheme, small.state_dict(), small.config, config, args.seed), config,
                            args.seed)
    return MSLTTask(recomputing(model, args), schedule, start_step, fresh=resume_from is None)
