"""The command line of both entry scripts: the authors' flags (SPEC section 4) plus ours.

``--config FILE`` reads ``name = value`` lines; flags on the command line override them.
A key in a config file that is not a flag is an error naming the file and the key.
"""

import math
import os

import torch

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError
from ligo.base.flag_checks import check_adam_epsilon, check_finite
from ligo.growth.schemes import GROW_SCHEMES, INIT_SCHEMES, TRAINING_METHODS, check_grow_noise
from ligo.models.families import MODEL_TYPES, family_of
from ligo.models.target_config import check_target_flags
from ligo.tasks.source_model import SOURCE_HEAD_HELP, SOURCE_HEADS
from ligo.training.layer_drop import LayerDrop
from ligo.training.preemption import DEFAULT_SIGNALS, EXIT_PREEMPTED, parse_signals
from ligo.training.token_drop import TokenDrop


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        description="Pretrain a transformer (language or image model), or train a LiGO growth operator.")
    parser.add_argument("--config", is_config_file=True, help="config file of `name = value` lines")
    _data_flags(parser)
    _image_flags(parser)
    _logging_flags(parser)
    _model_flags(parser)
    _growth_flags(parser)
    _batch_and_optimiser_flags(parser)
    _system_flags(parser)
    return parser


def _data_flags(parser):
    group = parser.add_argument_group("data")
    group.add_argument("--train_data_file", help="text file whose <file>.<tokenizer>.hdf5 holds the training tokens")
    group.add_argument("--eval_data_file", help="text file whose <file>.<tokenizer>.hdf5 holds the evaluation tokens")
    group.add_argument("--do_train", action="store_true", help="train")
    group.add_argument("--do_eval", action="store_true",
                       help="evaluate every --logging_steps (and once if not training)")
    group.add_argument("--col_data", action="store_true",
                       help="the authors' switch for their HDF5 dataset; ours always reads the HDF5 block dataset")
    group.add_argument("--split_sent", action="store_true",
                       help="the authors' flag, set in their configs but never read by their dataset: blocks are "
                            "contiguous windows of the token stream with it or without, as the authors trained; "
                            "to pack whole sentences use --pack_sentences")
    group.add_argument("--pack_sentences", action="store_true",
                       help="pack whole sentences (.sent index) or lines (.line) into blocks instead of cutting the "
                            "stream into contiguous windows (ours; not the authors' training data)")
    group.add_argument("--shuffle", action="store_true", help="shuffle the training blocks, anew every epoch")
    group.add_argument("--block_size", type=int, default=-1,
                       help="tokens per block, special tokens excluded (-1: the model's longest input)")
    group.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes per rank")
    group.add_argument("--prefetch_factor", type=int,
                       help="batches each DataLoader worker loads ahead (torch's default: 2); needs --num_workers > 0")
    group.add_argument("--pin_memory", default="auto", choices=["auto", "on", "off"],
                       help="page-locked training batches, for faster, asynchronous copies to a GPU "
                            "(auto: on with CUDA, off on CPU; on needs CUDA)")


def _image_flags(parser):
    group = parser.add_argument_group("images (--model_type vit; DeiT's recipe and flag names: docs/vision.md)")
    group.add_argument("--data_path", help="ImageFolder root in ImageNet's layout: <data_path>/train/<class>/<image> "
                                           "and <data_path>/val/<class>/<image>")
    group.add_argument("--train_split", default="train", help="the training images' folder under --data_path")
    group.add_argument("--eval_split", default="val", help="the evaluation images' folder under --data_path")
    group.add_argument("--input_size", type=int, help="image side in pixels after cropping (default and only value: "
                                                      "the model config's image_size)")
    group.add_argument("--crop_scale_min", type=float, default=0.08,
                       help="RandomResizedCrop's smallest crop, as a share of the image (DeiT: 0.08)")
    group.add_argument("--hflip", type=float, default=0.5, help="horizontal flip probability (DeiT: 0.5)")
    group.add_argument("--reprob", type=float, default=0.25, help="random erasing probability (DeiT: 0.25)")
    group.add_argument("--mixup", type=float, default=0.8, help="Mixup alpha, 0 to turn it off (DeiT: 0.8)")
    group.add_argument("--cutmix", type=float, default=1.0, help="CutMix alpha, 0 to turn it off (DeiT: 1.0)")
    group.add_argument("--mixup_switch_prob", type=float, default=0.5,
                       help="with both on, the chance that a batch gets CutMix instead of Mixup (DeiT: 0.5)")
    group.add_argument("--smoothing", type=float, default=0.1, help="label smoothing (DeiT: 0.1)")
    group.add_argument("--rand_augment_ops", type=int, default=2, help="RandAugment: operations per image (DeiT: 2)")
    group.add_argument("--rand_augment_magnitude", type=int, default=9, help="RandAugment: magnitude (DeiT: 9)")
    group.add_argument("--check_images", default="on", choices=["on", "off"],
                       help="decode every image once before training, shared out over the ranks, and refuse a "
                            "corrupt one (off: trust the folder; a corrupt image then stops the run when it is met)")


def _logging_flags(parser):
    group = parser.add_argument_group("logging and checkpoints")
    group.add_argument("--logging_steps", type=int, default=500, help="log (and evaluate) every N optimiser steps")
    group.add_argument("--ckpt_steps", type=int, default=1000, help="checkpoint every N optimiser steps")
    group.add_argument("--output_dir", required=True, help="where checkpoints, logs and metrics go")
    group.add_argument("--overwrite_output_dir", action="store_true", help="start afresh in a non-empty --output_dir")


def _model_flags(parser):
    group = parser.add_argument_group("model")
    group.add_argument("--model_type", choices=MODEL_TYPES, help="the model family (ligo/models/)")
    group.add_argument("--should_continue", action="store_true",
                       help="resume from the latest checkpoint in --output_dir")
    group.add_argument("--model_name_or_path", help="initial weights: a Hugging Face checkpoint folder or hub id")
    group.add_argument("--config_name", help="model config JSON (configs/*.json); or derive it from the source's "
                                             "config with the --target_* flags")
    add_target_flags(group)
    group.add_argument("--tokenizer_name",
                       help="tokenizer: hub id or local folder (python -m tokenization.train_tokenizer)")
    group.add_argument("--cache_dir", help="Hugging Face cache folder for hub downloads")
    group.add_argument("--overwrite_cache", action="store_true",
                       help="the authors' flag for their feature cache; ours keeps no such cache, so it does nothing")
    group.add_argument("--mlm", action="store_true", help="masked-LM loss (the objective of the masked-LM families)")
    group.add_argument("--mlm_probability", type=float, default=0.15, help="share of tokens masked")
    group.add_argument("--mlm_ratio", type=float, default=1.0, help="weight of the MLM loss in the total loss")


def add_target_flags(group):
    """The target model derived from --source_model_path's config, instead of --config_name's
    (ligo/models/target_config.py), and the config fields it may set otherwise than the source's."""
    group.add_argument("--target_layers", type=int, help="layers of the target derived from the source's config "
                                                         "(default: the source's)")
    group.add_argument("--target_hidden", type=int,
                       help="hidden size of the derived target, in heads of the source's size (default: the source's)")
    group.add_argument("--target_intermediate", type=int,
                       help="FFN size of the derived target (default: the source's FFN / hidden ratio times "
                            "--target_hidden)")
    group.add_argument("--allow_config_mismatch", nargs="+", action="extend", default=[], metavar="FIELD",
                       help="config fields (neither sizes nor dropout) the target may set otherwise than the source, "
                            "e.g. hidden_act: growth then no longer preserves the source's function")


def _growth_flags(parser):
    group = parser.add_argument_group("growth (LiGO and baselines)")
    group.add_argument("--source_model_path", nargs="*", help="the small pretrained model(s) to grow from")
    group.add_argument("--source_head", default="checkpoint", choices=SOURCE_HEADS,
                       help=f"{SOURCE_HEAD_HELP}; also for --model_name_or_path")
    group.add_argument("--grow_scheme", default="none", choices=GROW_SCHEMES, help="how to initialise the large model")
    group.add_argument("--grow_noise", type=float, default=0.0,
                       help="net2net and bert2bert schemes: noise (a fraction of each weight's std) that splits a "
                            "copied unit's weights unevenly among its copies, keeping the function (HyperCloning)")
    group.add_argument("--tune_depth", action="store_true", help="learn the depth coefficients")
    group.add_argument("--tune_width", action="store_true", help="learn the width expansions")
    group.add_argument("--fuse_init_scheme", nargs="+", default=["rand"], choices=INIT_SCHEMES,
                       help="init of the operator: DEPTH [WIDTH] (one value: both)")
    group.add_argument("--fuse_init_noise", nargs="+", type=float, default=[0.03], help="noise: DEPTH [WIDTH]")
    group.add_argument("--fuse_tie_param", dest="fuse_tie_param", action="store_true", default=True,
                       help="tie the expansions the architecture shares (the default)")
    group.add_argument("--no_fuse_tie_param", dest="fuse_tie_param", action="store_false",
                       help="give every module independent expansions")
    group.add_argument("--tune_small_model", action="store_true", help="train the small model's weights too")
    group.add_argument("--tune_residual", action="store_true", help="learn an additive residual on every grown tensor")
    group.add_argument("--tune_residual_noise", type=float, default=0.01, help="init scale of that residual")
    group.add_argument("--learning_rate_res", type=float,
                       help="learning rate of the residual (default: --learning_rate)")
    group.add_argument("--weight_decay_res", type=float, help="weight decay of the residual (default: --weight_decay)")
    group.add_argument("--operator_growth", choices=("whole", "per_layer"),
                       help="operator training: grow the large model whole for each step (the default with ddp), or "
                            "each layer just before it runs and again in the backward (the default with fsdp or "
                            "--gradient_checkpointing): one layer's weights in memory at a time, for about one more "
                            "forward (docs/cluster.md)")
    group.add_argument("--pretrained_ligo_path",
                       help="output_dir of a run_grow_distributed.py run (its latest checkpoint), or one of its "
                            "checkpoints/checkpoint-XXXXXXXX folders")


def _batch_and_optimiser_flags(parser):
    group = parser.add_argument_group("batch, steps and optimiser")
    group.add_argument("--seed", type=int, default=95, help="seed of initialisation, data order and masks")
    group.add_argument("--per_gpu_train_batch_size", type=int, default=4, help="sequences per process per micro-step")
    group.add_argument("--per_gpu_eval_batch_size", type=int, default=4, help="sequences per process in evaluation")
    group.add_argument("--gradient_accumulation_steps", type=int, default=1, help="micro-steps per optimiser step")
    group.add_argument("--max_steps", type=int, default=100000, help="optimiser steps in all")
    group.add_argument("--warmup_steps", type=int, default=0, help="linear warm-up steps")
    group.add_argument("--warmup_ratio", type=float, default=0.0, help="warm-up as a share of --max_steps")
    group.add_argument("--learning_rate", type=float, default=5e-5, help="peak learning rate of AdamW")
    group.add_argument("--weight_decay", type=float, default=0.01, help="AdamW weight decay (not on biases, LayerNorm)")
    group.add_argument("--adam_epsilon", type=float, default=1e-6, help="AdamW epsilon")
    group.add_argument("--max_grad_norm", type=float, default=1.0, help="gradient clipping norm (0: no clipping)")
    group.add_argument("--skip_nonfinite_steps", action="store_true",
                       help="skip the update of a step whose loss or gradients are inf/NaN, and count it "
                            "(skipped_steps in metrics.jsonl), instead of stopping the run")
    group.add_argument("--scheduler_type", default="linear", choices=["linear", "cosine", "poly"], help="LR schedule")
    group.add_argument("--scheduler_cosine_cycles", type=float, default=0.5, help="cycles of the cosine schedule")
    group.add_argument("--scheduler_poly_power", type=float, default=1.0, help="power of the polynomial schedule")

    group = parser.add_argument_group("efficient training (the paper's Figure 5; run_lm_distributed.py)")
    group.add_argument("--layer_drop", action="store_true",
                       help="progressive layer dropping (Zhang and He, 2020): skip layers at random in training, more "
                            "often as training goes on (ligo/training/layer_drop.py)")
    group.add_argument("--layer_drop_rate", type=float, default=0.0,
                       help="the drop probability the schedule reaches (1 - PLD's theta_bar; the last layer's with "
                            "--layer_drop_lin_decay)")
    group.add_argument("--layer_drop_lin_decay", action="store_true",
                       help="keep probability falling linearly with depth, --layer_drop_rate being the last layer's")
    group.add_argument("--layer_drop_gamma", type=float, default=0.001,
                       help="how fast the keep probability falls: theta(t) = (1 - bar) * exp(-gamma * t) + bar "
                            "(DeepSpeed's default 0.001)")
    group.add_argument("--token_drop", action="store_true",
                       help="token dropping (Hou et al., 2022): the middle layers run on the important tokens only "
                            "(ligo/training/token_drop.py)")
    group.add_argument("--token_drop_rate", type=float, default=0.0, help="share of the tokens the middle layers drop")
    group.add_argument("--token_drop_start", type=int, default=2, help="first layer that drops tokens (from 0)")
    group.add_argument("--token_drop_end", type=int, default=-1,
                       help="layer from which every token runs again (negative: from the top; -1: the last layer)")
    group = parser.add_argument_group("Knowledge Inheritance (--grow_scheme ki) and MSLT (--grow_scheme mslt)")
    group.add_argument("--ki_alpha", type=float, default=1.0,
                       help="KI: weight of the teacher's loss at the first step, falling linearly to 0")
    group.add_argument("--ki_steps", type=int,
                       help="KI: the step at which the teacher's weight reaches 0 (default: 55/125 of --max_steps, as "
                            "KI's authors)")
    group.add_argument("--ki_temperature", type=float, default=2.0, help="KI: temperature of the distillation loss")
    group.add_argument("--mslt_stages", type=int, nargs="+",
                       help="MSLT: the depth after each stage, e.g. 9 12 from a 6-layer source (default: two stages, "
                            "halfway and the target's depth)")
    group.add_argument("--mslt_stage_steps", type=int, nargs="+",
                       help="MSLT: optimiser steps of each stage (new layers only); the rest of --max_steps trains "
                            "the whole model")


def _system_flags(parser):
    group = parser.add_argument_group("devices and precision")
    group.add_argument("--local_rank", "--local-rank", type=int, default=-1,
                       help="set by torch.distributed.launch; torchrun sets LOCAL_RANK instead")
    group.add_argument("--nodes", type=int, default=1,
                       help="the authors' node count; for several nodes launch with torchrun --nnodes")
    group.add_argument("--nr", type=int, default=0, help="the authors' node rank; with torchrun: --node_rank")
    group.add_argument("--fp16", action="store_true", help="float16 autocast with loss scaling (torch.amp, CUDA)")
    group.add_argument("--fp16_opt_level", default="O1",
                       help="the authors' apex level; torch.amp autocast is what apex called O1, the only level")
    group.add_argument("--bf16", action="store_true", help="bfloat16 autocast (torch.amp; CUDA or CPU)")
    group.add_argument("--torch_compile", action="store_true",
                       help="train a torch.compile'd model (evaluation and checkpoints use the plain one); the first "
                            "steps compile")
    group.add_argument("--torch_compile_backend", default="inductor",
                       help="torch.compile backend for --torch_compile (inductor; aot_eager compiles fast, runs eager)")
    group.add_argument("--ddp_timeout", type=int, default=1800, help="seconds a collective may wait before failing")
    group.add_argument("--data_parallel", default="ddp", choices=("ddp", "fsdp"),
                       help="how several processes share the model: ddp replicates it on each; fsdp (FSDP2) shards "
                            "its parameters, gradients and optimizer state over them (docs/cluster.md)")
    group.add_argument("--fsdp_cpu_offload", action="store_true",
                       help="fsdp: keep the shards of parameters, gradients and optimizer state in host memory")
    group.add_argument("--gradient_checkpointing", action="store_true",
                       help="activation checkpointing: keep each layer's input only and recompute the layer in the "
                            "backward, for about one more forward of the layers a step; with run_grow_distributed.py "
                            "the operator step grows per layer (--operator_growth per_layer), which recomputes so")
    group = parser.add_argument_group("preemption (docs/cluster.md)")
    group.add_argument("--preempt_signals", nargs="+", default=list(DEFAULT_SIGNALS),
                       help="signals that stop the run after its current step with a checkpoint and exit code "
                            f"{EXIT_PREEMPTED} (none: die of them)")
    group.add_argument("--preempt_grace_seconds", type=float, default=0.0,
                       help="after such a signal, stop at once (no checkpoint) if the checkpoint is not written within "
                            "this many seconds (0: no limit); set it below the scheduler's grace time")


def parse_args(argv=None, parser=None, modality: str | None = None):
    """``modality`` "text" or "image": the entry script trains only that kind of model (None: either)."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)  # checks the --config files first
    check_args(args)
    if modality is not None:
        check_modality(args, modality)
    return args


def check_modality(args, modality: str):
    image = family_of(args.model_type).objective == "image"
    if modality == "text" and image:
        raise UserError(f"--model_type {args.model_type} is an image model: train it with run_image_distributed.py "
                        "(same flags)")
    if modality == "image" and not image:
        raise UserError(f"--model_type {args.model_type} is a language model: train it with run_lm_distributed.py "
                        "(same flags)")


def check_sharding_args(args):
    """--data_parallel fsdp: what does not combine with it (yet), in one line each."""
    if args.data_parallel != "fsdp":
        if args.fsdp_cpu_offload:
            raise UserError("--fsdp_cpu_offload offloads FSDP's shards: pass --data_parallel fsdp too, or drop it")
        return
    if args.fp16:
        raise UserError("--fp16 with --data_parallel fsdp: FSDP's mixed precision is bfloat16 here; use --bf16")
    refused = [(args.torch_compile, "--torch_compile"), (args.skip_nonfinite_steps, "--skip_nonfinite_steps")]
    named = [flag for on, flag in refused if on]
    if named:
        raise UserError(f"{named[0]} does not run with --data_parallel fsdp yet; use --data_parallel ddp (the "
                        "default) for it")


def check_loader_args(args):
    # Where CUDA is visible every rank trains on it (ligo.training.distributed.init). Without it, torch would
    # only warn and not pin.
    if args.pin_memory == "on" and not torch.cuda.is_available():
        raise UserError("--pin_memory on needs a CUDA GPU (pinned memory speeds up copies to it) and none is "
                        "visible; use --pin_memory auto or off")
    if args.prefetch_factor is None:
        return
    if args.prefetch_factor < 1:
        raise UserError(f"--prefetch_factor must be at least 1, got {args.prefetch_factor}")
    if args.num_workers == 0:
        # Without workers the main process loads each batch when it is needed: nothing prefetches.
        raise UserError(f"--prefetch_factor {args.prefetch_factor} needs DataLoader workers; pass --num_workers 1 "
                        "or more, or leave --prefetch_factor out")


def check_compile_args(args):
    if not args.torch_compile:
        return
    import torch._dynamo  # here: only --torch_compile pays for importing the compiler

    backend = args.torch_compile_backend
    if backend not in torch._dynamo.list_backends(exclude_tags=()):
        raise UserError(f"--torch_compile_backend {backend} is not a torch.compile backend; use inductor (the "
                        "default), aot_eager or eager")
    if backend == "inductor" and not torch.cuda.is_available() and not _cpp_compiler_found():
        # Found out otherwise only at the first step, in a long traceback from deep inside inductor.
        raise UserError("--torch_compile with the inductor backend on CPU needs a C++ compiler (g++, or the one "
                        "$CXX names) and none was found; install g++ or pass --torch_compile_backend aot_eager")


def _cpp_compiler_found() -> bool:
    from torch._inductor import cpp_builder, exc

    try:
        cpp_builder.get_cpp_compiler()
    except exc.InvalidCxxCompiler:
        return False
    return True


def check_method_args(args):
    """The training methods' values, and combinations they cannot run."""
    LayerDrop.from_args(args)
    TokenDrop.check_args(args)
    if not 0.0 < args.ki_alpha <= 1.0:
        raise UserError(f"--ki_alpha must be in (0, 1], the weight of the teacher's loss at the first step, got "
                        f"{args.ki_alpha}")
    if not 0.0 < args.ki_temperature < math.inf:
        raise UserError(f"--ki_temperature must be positive and finite (KI's authors: 2), got {args.ki_temperature}")
    if args.ki_steps is not None and args.ki_steps < 1:
        raise UserError(f"--ki_steps must be at least 1 (the step at which the teacher's weight reaches 0), got "
                        f"{args.ki_steps}")
    if args.grow_scheme in TRAINING_METHODS and not args.source_model_path:
        raise UserError(f"--grow_scheme {args.grow_scheme} needs --source_model_path: the small pretrained model "
                        f"({'the teacher' if args.grow_scheme == 'ki' else 'the first stage'})")
    if args.grow_scheme == "mslt" and not args.mslt_stage_steps:
        raise UserError("--grow_scheme mslt needs --mslt_stage_steps: the optimiser steps of each stage, e.g. "
                        "--mslt_stage_steps 1000 1000")
    if args.grow_scheme != "mslt" and (args.mslt_stages or args.mslt_stage_steps):
        raise UserError("--mslt_stages and --mslt_stage_steps belong to --grow_scheme mslt; remove them")
    if args.torch_compile and (args.layer_drop or args.token_drop or args.grow_scheme == "mslt"):
        raise UserError("--torch_compile cannot follow a model whose layers or tokens change from step to step "
                        "(--layer_drop, --token_drop, --grow_scheme mslt): it would recompile; drop --torch_compile")


def check_args(args):
    """Refuse values that cannot work, naming the flag and the fix."""
    check_finite(args)
    positive = ["per_gpu_train_batch_size", "per_gpu_eval_batch_size", "gradient_accumulation_steps", "max_steps"]
    for name in positive:
        if getattr(args, name) < 1:
            raise UserError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name in ["logging_steps", "ckpt_steps", "warmup_steps", "num_workers", "seed", "weight_decay",
                 "max_grad_norm", "tune_residual_noise", "weight_decay_res", "learning_rate_res", "nr"]:
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UserError(f"--{name} must not be negative, got {value}")
    check_adam_epsilon(args.adam_epsilon)
    check_grow_noise(args.grow_noise, args.grow_scheme)
    if any(noise < 0 for noise in args.fuse_init_noise):
        raise UserError(f"--fuse_init_noise must not be negative, got {' '.join(map(str, args.fuse_init_noise))}")
    for name in ["ddp_timeout", "mlm_ratio", "scheduler_cosine_cycles", "scheduler_poly_power", "nodes"]:
        if getattr(args, name) <= 0:
            raise UserError(f"--{name} must be positive, got {getattr(args, name)}")
    check_loader_args(args)
    check_compile_args(args)
    if args.learning_rate <= 0:
        raise UserError(f"--learning_rate must be positive, got {args.learning_rate}")
    if not 0.0 <= args.warmup_ratio < 1.0:
        raise UserError(f"--warmup_ratio must be in [0, 1), got {args.warmup_ratio}")
    if args.warmup_ratio > 0 and args.warmup_steps > 0:
        raise UserError("give --warmup_steps or --warmup_ratio, not both")
    if not 0.0 < args.mlm_probability < 1.0:
        raise UserError(f"--mlm_probability must be in (0, 1), got {args.mlm_probability}")
    if args.model_type is None:
        raise UserError(f"--model_type is required: one of {', '.join(MODEL_TYPES)}")
    check_target_flags(args)
    if family_of(args.model_type).objective == "mlm" and not args.mlm:
        raise UserError(f"{args.model_type} is trained with the masked-LM loss: pass --mlm (or mlm = true in --config)")
    if family_of(args.model_type).causal and args.mlm:
        raise UserError(f"{args.model_type} is a causal LM, trained to predict the next token: leave --mlm out (and "
                        "mlm = true out of --config); there is no masking")
    if family_of(args.model_type).causal and args.token_drop:
        raise UserError(f"--token_drop is BERT's token dropping (it drops unmasked tokens from middle layers, which a "
                        f"causal LM must predict): not for {args.model_type}; use --layer_drop")
    if args.fp16 and args.bf16:
        raise UserError("give --fp16 or --bf16, not both")
    if args.fp16_opt_level != "O1":
        raise UserError(f"--fp16_opt_level {args.fp16_opt_level}: apex is not used; torch.amp autocast is O1, the "
                        "only level")
    check_method_args(args)
    check_sharding_args(args)
    parse_signals(args.preempt_signals)
    if args.preempt_grace_seconds < 0:
        raise UserError(f"--preempt_grace_seconds must not be negative (0: no limit), got {args.preempt_grace_seconds}")
    if args.nodes > 1 and "WORLD_SIZE" not in os.environ:
        raise UserError(
            f"--nodes {args.nodes}: launch each node with torchrun instead, e.g. `torchrun --nnodes {args.nodes} "
            "--node_rank R --nproc_per_node GPUS --rdzv_backend c10d --rdzv_endpoint HOST:PORT "
            "run_lm_distributed.py ...`"
        )
    if not args.do_train and not args.do_eval:
        raise UserError("nothing to do: pass --do_train and/or --do_eval")
    if family_of(args.model_type).objective == "image":
        check_image_args(args)
        return
    if args.data_path is not None:
        raise UserError(f"--data_path is the image folder of an image model; {args.model_type} trains on text: pass "
                        "--train_data_file / --eval_data_file instead")
    for flag, path in [("train_data_file", args.train_data_file if args.do_train else "-"),
                       ("eval_data_file", args.eval_data_file if args.do_eval else "-")]:
        if path is None:
            raise UserError(f"--{flag} is required with --do_{'train' if flag.startswith('train') else 'eval'}")
    if args.tokenizer_name is None:
        raise UserError("--tokenizer_name is required: a hub id or a tokenizer folder")


def check_image_args(args):
    """An image model's run: its data flags, and the text-only methods it cannot run."""
    name = args.model_type
    if args.data_path is None:
        raise UserError(f"--data_path is required for {name}: an ImageFolder root with train/<class>/<image> and "
                        "val/<class>/<image> (python -m ligo.data.digits writes a small real one)")
    text_only = [flag for flag, on in [("--train_data_file", args.train_data_file), ("--eval_data_file",
                                       args.eval_data_file), ("--tokenizer_name", args.tokenizer_name),
                                       ("--mlm", args.mlm), ("--pack_sentences", args.pack_sentences),
                                       ("--token_drop", args.token_drop)]
                 if on]
    if text_only:
        raise UserError(f"{', '.join(text_only)}: for language models only; {name} trains on the images of "
                        "--data_path (token dropping drops unmasked tokens: a method for text only)")
    if not 0.0 < args.crop_scale_min <= 1.0:
        raise UserError(f"--crop_scale_min must be in (0, 1], got {args.crop_scale_min}")
    for flag in ("reprob", "mixup_switch_prob", "smoothing", "hflip"):
        if not 0.0 <= getattr(args, flag) <= 1.0:
            raise UserError(f"--{flag} must be in [0, 1], got {getattr(args, flag)}")
    for flag in ("mixup", "cutmix", "rand_augment_ops", "rand_augment_magnitude"):
        if getattr(args, flag) < 0:
            raise UserError(f"--{flag} must not be negative (0 turns it off), got {getattr(args, flag)}")
    if args.smoothing == 1.0:
        raise UserError("--smoothing 1 makes every target uniform: nothing to learn; DeiT uses 0.1")
