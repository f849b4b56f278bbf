"""One training or evaluation run in one process: what both entry scripts run on every
rank. The entry script decides only what is trained (``build_task``)."""

import shutil
from pathlib import Path

import torch
import transformers

from ligo import checkpoint, distributed
from ligo.dataset import BlockDataset
from ligo.errors import UserError, exit_on_user_error
from ligo.masking import SeededMLMCollator
from ligo.models import check_tokenizer_fits, load_config, resolve_block_size
from ligo.tokenizer import load_tokenizer, tokenizer_tag
from ligo.trainer import Trainer

# What our runs write into --output_dir; --overwrite_output_dir removes exactly these.
RUN_OUTPUTS = ("checkpoints", "runs", "metrics.jsonl", "train_log.txt")
# Arguments a resumed run must share with the checkpoint it resumes.
MUST_MATCH_ON_RESUME = ("model_type", "config_name", "grow_scheme", "tokenizer_name", "block_size")
EVAL_MASK_SEED = 0


def prepare_output_dir(args, ctx) -> Path | None:
    """The checkpoint to resume from, if any; refuses to mix a new run into an old one."""
    output_dir = Path(args.output_dir)
    latest = checkpoint.latest_checkpoint(output_dir)
    if args.should_continue and latest is not None:
        check_resumable(args, latest)
        return latest
    leftovers = [name for name in RUN_OUTPUTS if (output_dir / name).exists()]
    if leftovers and not args.overwrite_output_dir:
        raise UserError(
            f"--output_dir '{output_dir}' already holds a run ({', '.join(leftovers)}); pass --should_continue to "
            "resume it, --overwrite_output_dir to start afresh, or choose another folder"
        )
    torch.distributed.barrier()  # every rank has looked before rank 0 clears anything
    if ctx.is_main:
        for name in leftovers:
            path = output_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        output_dir.mkdir(parents=True, exist_ok=True)
    torch.distributed.barrier()
    return None


def check_resumable(args, folder: Path):
    saved = checkpoint.load_saved_args(folder)
    for name in MUST_MATCH_ON_RESUME:
        if str(saved.get(name)) != str(getattr(args, name)):
            raise UserError(
                f"--should_continue: checkpoint '{folder}' was made with --{name} {saved.get(name)}, this run has "
                f"--{name} {getattr(args, name)}; use the same value or another --output_dir"
            )


def build_datasets(args, tokenizer, block_size: int):
    tag = tokenizer_tag(args.tokenizer_name)
    train = BlockDataset(args.train_data_file, tag, tokenizer, block_size, args.split_sent) if args.do_train else None
    evaluation = BlockDataset(args.eval_data_file, tag, tokenizer, block_size, args.split_sent) if args.do_eval else None
    return train, evaluation


@exit_on_user_error
def run_session(args, build_task):
    """``build_task(args, config, resume_from)`` returns the task to train (on the CPU)."""
    ctx = distributed.init(args.ddp_timeout, args.local_rank)
    transformers.utils.logging.disable_progress_bar()  # one progress bar: ours
    try:
        torch.manual_seed(args.seed + ctx.rank)  # dropout differs between ranks, not between runs
        resume_from = prepare_output_dir(args, ctx)
        tokenizer = load_tokenizer(args.tokenizer_name)
        config = load_config(args.model_type, args.config_name, args.cache_dir)
        check_tokenizer_fits(config, tokenizer, args.config_name, args.tokenizer_name)
        args.block_size = resolve_block_size(args.block_size, config, args.model_type)
        train_data, eval_data = build_datasets(args, tokenizer, args.block_size)
        task = build_task(args, config, resume_from)
        task.module.to(ctx.device)
        if ctx.is_main:
            where = f"resuming from {resume_from}" if resume_from else "starting"
            trained = sum(p.numel() for p in task.module.parameters() if p.requires_grad)
            print(f"{where}: {args.model_type} {config.num_hidden_layers}L-{config.hidden_size}H, {trained / 1e6:.2f}M "
                  f"trained parameters, {ctx.world_size} process(es) on {ctx.device.type}, output in {args.output_dir}",
                  flush=True)
        collate = SeededMLMCollator(tokenizer, args.mlm_probability, seed=args.seed)
        # Evaluation masks do not follow --seed: every run is scored on the same masked blocks.
        eval_collate = SeededMLMCollator(tokenizer, args.mlm_probability, seed=EVAL_MASK_SEED)
        trainer = Trainer(task, args, ctx, tokenizer, train_data, eval_data, collate, eval_collate, resume_from)
        if args.do_train:
            trainer.train()
        else:
            metrics = trainer.evaluate_only()
            if ctx.is_main:
                print(f"evaluation: {metrics}")
    finally:
        distributed.shutdown()
