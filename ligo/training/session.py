"""One training or evaluation run in one process: what every entry script runs on every
rank. The entry script decides only what is trained (``build_task``); the family of
``--model_type`` decides the data (ligo/data/build.py)."""

import shutil
import sys
import traceback
from pathlib import Path

import torch
import transformers

from ligo.base import host_memory
from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.output_lock import LOCK_FILE, claim_output_dir
from ligo.data.build import build_run_data
from ligo.models.families import family_of
from ligo.models.target_config import load_target_config
from ligo.training import checkpoint, distributed, optim
from ligo.training.preemption import (
    EXIT_PREEMPTED,
    MARKER,
    Preempted,
    Preemption,
    parse_signals,
    remove_marker,
    write_marker,
)
from ligo.training.trainer import Trainer

# What our runs write into --output_dir; --overwrite_output_dir removes exactly these.
RUN_OUTPUTS = ("checkpoints", "runs", "metrics.jsonl", "train_log.txt", MARKER)
# Arguments a resumed run must share with the checkpoint it resumes.
MUST_MATCH_ON_RESUME = ("model_type", "config_name", "grow_scheme", "tokenizer_name", "block_size")
# The same for the training methods' settings and a derived target's sizes; a checkpoint written
# before a flag existed ran with its default (the method off, the target --config_name's).
METHOD_FLAGS_ON_RESUME = {"layer_drop": False, "layer_drop_rate": 0.0, "layer_drop_lin_decay": False,
                          "layer_drop_gamma": 0.001, "token_drop": False, "token_drop_rate": 0.0,
                          "token_drop_start": 2, "token_drop_end": -1, "ki_alpha": 1.0, "ki_steps": None,
                          "ki_temperature": 2.0, "mslt_stages": None, "mslt_stage_steps": None,
                          "target_layers": None, "target_hidden": None, "target_intermediate": None,
                          "pack_sentences": False, "data_parallel": "ddp"}


def prepare_output_dir(args, ctx) -> Path | None:
    """The checkpoint to resume from, if any; refuses to mix a new run into an old one.

    --should_continue resumes from the latest complete checkpoint, whenever the run was
    stopped or killed; with none (killed before its first was written), it starts afresh."""
    output_dir = Path(args.output_dir)
    latest = checkpoint.latest_checkpoint(output_dir)
    if args.should_continue and latest is not None:
        distributed.on_main(ctx, f"checking '{latest}'", lambda: checkpoint.verify_checkpoint(latest))
        check_resumable(args, latest)
        done = checkpoint.load_trainer_state(latest)["step"]
        if done > args.max_steps:
            raise UserError(f"--should_continue: '{output_dir}' has trained {done} steps already, past --max_steps "
                            f"{args.max_steps}; raise --max_steps to train on, or choose another --output_dir")
        if done == args.max_steps and args.do_train and ctx.is_main:
            print(f"--should_continue: '{output_dir}' is finished ({done} of --max_steps {args.max_steps} steps); "
                  "nothing to train", flush=True)
        def tidy():
            checkpoint.remove_unfinished(output_dir)
            remove_marker(output_dir)  # the run goes on: no longer stopped

        distributed.on_main(ctx, "removing interrupted checkpoint writes", tidy)
        return latest
    leftovers = [name for name in RUN_OUTPUTS if (output_dir / name).exists()]
    if leftovers and not (args.overwrite_output_dir or args.should_continue):
        raise UserError(
            f"--output_dir '{output_dir}' already holds a run ({', '.join(leftovers)}); pass --should_continue to "
            "resume it, --overwrite_output_dir to start afresh, or choose another folder"
        )
    others = sorted(p.name for p in output_dir.iterdir() if p.name != LOCK_FILE) \
        if output_dir.is_dir() and not leftovers else []
    if others and not (args.overwrite_output_dir or args.should_continue):
        raise UserError(
            f"--output_dir '{output_dir}' is not empty ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}); "
            "choose an empty or new folder, or pass --overwrite_output_dir (it removes only this program's outputs)"
        )
    if leftovers and args.should_continue and ctx.is_main:
        print(f"--should_continue: '{output_dir}' holds no complete checkpoint (the run stopped before its first); "
              f"starting afresh, replacing {', '.join(leftovers)}", flush=True)
    torch.distributed.barrier()  # every rank has looked before rank 0 clears anything
    if ctx.is_main:
        for name in leftovers:
            path = output_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        output_dir.mkdir(parents=True, exist_ok=True)
    torch.distributed.barrier()
    return None


def check_resumable(args, folder: Path):
    written = checkpoint.load_saved_args(folder)
    saved = {**METHOD_FLAGS_ON_RESUME, **written}
    if "pack_sentences" not in written:  # before --pack_sentences, --split_sent packed sentences
        saved["pack_sentences"] = bool(written.get("split_sent", False))
    for name in (*MUST_MATCH_ON_RESUME, *METHOD_FLAGS_ON_RESUME):
        if str(saved.get(name)) != str(getattr(args, name)):
            raise UserError(
                f"--should_continue: checkpoint '{folder}' was made with --{name} {saved.get(name)}, this run has "
                f"--{name} {getattr(args, name)}; use the same value or another --output_dir"
            )


@exit_on_user_error
def run_session(args, build_task):
    """``build_task(args, config, resume_from, tokenizer=)`` returns the task to train (on the CPU)."""
    ctx = distributed.init(args.ddp_timeout, args.local_rank)
    transformers.utils.logging.disable_progress_bar()  # one progress bar: ours
    preempted = None
    try:
        _run(args, build_task, ctx)
    except Preempted as stop:
        # not the exception: its frames hold the model, and go now
        preempted = f"{stop}: " if stop.at_start else f"{stop}: checkpoint written and "
    except Exception as err:
        if ctx.world_size > 1:
            report_failure(ctx, err)
        # What the failed frames hold (the DDP model) goes now, before the process group does:
        # see distributed.shutdown. The traceback keeps its lines.
        traceback.clear_frames(err.__traceback__)
        raise
    finally:
        distributed.shutdown()
    if preempted is not None:
        if ctx.is_main:
            print(f"{preempted}{MARKER} left in {args.output_dir}; resume with --should_continue (exit code "
                  f"{EXIT_PREEMPTED})", file=sys.stderr, flush=True)
        sys.exit(EXIT_PREEMPTED)


def _run(args, build_task, ctx):
    """Everything a rank does; what it holds (the DDP model) goes when it returns."""
    if args.data_parallel != "fsdp":
        # No page faults for every step's tensors (ligo/base/host_memory.py).
        host_memory.keep_freed_memory()
    else:
        # FSDP, chosen for memory: its per-layer gathers and frees, kept (or left to glibc's
        # default, which keeps them in effect), hold far more than the step uses on a CPU.
        host_memory.return_freed_memory()
    torch.manual_seed(args.seed + ctx.rank)  # dropout differs between ranks, not between runs
    what = Path(sys.argv[0]).name or "a training run"
    lock = distributed.on_main(ctx, "claiming --output_dir", lambda: claim_output_dir(args.output_dir, what))
    # Watched from here, not only in the loop: a signal while the data loads must stop the run
    # as cleanly (it stops before the first step).
    signals = parse_signals(args.preempt_signals) if args.do_train else ()
    try:
        with Preemption(signals, args.preempt_grace_seconds, ctx.rank) as preemption:
            _run_locked(args, build_task, ctx, preemption)
    finally:
        if lock is not None:
            lock.release()


def _run_locked(args, build_task, ctx, preemption):
    resume_from = prepare_output_dir(args, ctx)
    if distributed.any_rank(preemption.requested, ctx):  # signalled during start-up: load nothing
        stop_before_training(args, ctx, preemption, resume_from)
    source = checkpoint.resolve_model_path(args.source_model_path[0]) if args.source_model_path else None
    config = load_target_config(args, source)  # --config_name's, or derived from the source's config
    data = build_run_data(args, config, ctx)
    tokenizer = data.processor if family_of(args.model_type).is_language_model else None
    task = build_task(args, config, resume_from, tokenizer=tokenizer)
    task.to(ctx.device)
    if ctx.is_main:
        where = f"resuming from {resume_from}" if resume_from else "starting"
        trained = sum(p.numel() for p in task.module.parameters() if p.requires_grad)
        print(f"{where}: {args.model_type} {config.num_hidden_layers}L-{config.hidden_size}H, {trained / 1e6:.2f}M "
              f"trained parameters, {ctx.world_size} process(es) on {ctx.device.type}, output in {args.output_dir}",
              flush=True)
        if (trap := warmup_trap(args)) is not None:
            print(trap, flush=True)
    trainer = Trainer(task, args, ctx, data, resume_from, preemption)
    if args.do_train:
        trainer.train()
    else:
        metrics = trainer.evaluate_only()
        if ctx.is_main:
            print(f"evaluation: {metrics}")


def stop_before_training(args, ctx, preemption, resume_from: Path | None):
    """A signal during start-up is a preemption too: ``preempted.json`` (which the resumed run's
    start removed) says so and names the checkpoint to resume from, so a requeue script requeues."""
    step = checkpoint.load_trainer_state(resume_from)["step"] if resume_from is not None else 0
    name = preemption.received or "a signal to another rank"
    distributed.on_main(ctx, "writing preempted.json", lambda: write_marker(args.output_dir, step, name, resume_from))
    raise Preempted(step, name, at_start=True)


def warmup_trap(args) -> str | None:
    """One line when the learning rate never leaves its warm-up (the authors' operator recipe:
    ``--config configs/bert_wiki.txt --max_steps 100`` inherits ``warmup_steps = 10000``)."""
    warmup = optim.warmup_steps(args)
    if not args.do_train or warmup < args.max_steps:
        return None
    # The warm-up is linear from 0: the update of step k (from 1) uses lr * (k - 1) / warmup.
    peak = args.learning_rate * (args.max_steps - 1) / warmup
    return (f"warning: --warmup_steps {warmup} >= --max_steps {args.max_steps}: the learning rate never leaves "
            f"warm-up and peaks at {peak:.3g} (not --learning_rate {args.learning_rate:g}); lower --warmup_steps "
            "if that is not what you want")


def report_failure(ctx, err: Exception):
    """A line naming this rank, before its traceback: every rank writes to the same terminal."""
    if isinstance(err, UserError):
        return  # one clear line already (the same on every rank, or naming the rank that failed)
    first_line = str(err).splitlines()[0] if str(err) else ""
    print(f"\nrank {ctx.rank} of {ctx.world_size} failed (traceback below): {type(err).__name__}: {first_line}",
          file=sys.stderr, flush=True)
