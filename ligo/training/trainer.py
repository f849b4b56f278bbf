"""The one training loop, shared by pretraining (run_lm_distributed.py, run_image_distributed.py)
and LiGO operator training (run_grow_distributed.py).

What is trained is a *task*: a module whose forward takes a batch (of text or of images: the
run's ``RunData`` says which, and how to count and evaluate it) and returns an output with
``.loss``, its parameter groups, its FLOPs per sequence, the model evaluation runs, and how its
weights are saved. The loop around it is the same for both: AdamW and a
warm-up schedule, gradient accumulation, clipping, torch.amp, DDP, optionally torch.compile,
evaluation and logging every ``--logging_steps``, atomic checkpoints every ``--ckpt_steps``
(and at step 0 and at the end), exact resume.

A non-finite loss stops the run (or, with ``--skip_nonfinite_steps``, its step is skipped);
it is found without a host sync a step: on-device flags are read where the loop reduces its
counters anyway, before anything is logged or saved, so no checkpoint holds a diverged model.
Work that only rank 0 does (writing logs and checkpoints) tells every rank whether it failed,
so that no rank waits for a failed one until the timeout.

A stop asked for by a signal (ligo/training/preemption.py) is agreed on by every rank after each
optimiser step; the run then writes a checkpoint of that step and raises ``Preempted``. The
logging window's loss is kept per rank in that checkpoint, unreduced, so that the resumed run
adds the same numbers in the same order as one never stopped.
"""

import contextlib
import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from tqdm import tqdm

from ligo.base.autocast import autocast_for
from ligo.base.errors import UserError
from ligo.data.run_data import RunData
from ligo.training import checkpoint, fault_injection, sharded_checkpoint
from ligo.training.distributed import Context, all_reduce_min, all_reduce_sum, any_rank, gather_to_main, on_main
from ligo.training.evaluate import evaluate, perplexity
from ligo.training.optim import build_optimizer, build_scheduler
from ligo.training.preemption import Preempted, Preemption, in_data_worker, write_marker
from ligo.training.run_log import RunLog
from ligo.training.sampling import pin_memory_for, training_batches
from ligo.training.sharding import DataParallel, Deferred, local


class Task(Protocol):
    module: nn.Module  # what DDP wraps, the optimiser trains and ``save`` writes
    unused_parameters: bool  # whether a step may leave some trained parameters without a gradient
    deferred: Deferred | None  # module built on the meta device: where its weights come from once sharded

    def parameter_groups(self, args) -> list[dict]: ...

    def begin_step(self, step: int) -> None: ...  # before optimiser step ``step`` (from 1)

    def loss(self, model: nn.Module, batch: dict) -> torch.Tensor: ...  # ``model``: the module as trained (DDP...)

    # one micro-batch, forward + backward: called after its loss, so it may count what ran
    def train_flops(self, batch_size: int, seq_len: int) -> int: ...

    def eval_model(self) -> nn.Module: ...

    def training_objects(self) -> dict: ...  # more state for the checkpoints (objects with state_dict())

    def to(self, device: torch.device) -> None: ...

    def save(self, folder: Path) -> None: ...

    # FSDP: the modules sharded as units of their own before the root (a model's layers)
    def sharding_units(self) -> list[nn.Module]: ...

    def save_sharded(self, folder: Path, ctx: Context) -> None: ...  # every rank: what ``save`` writes, from shards


@dataclasses.dataclass
class TrainerState:
    """Everything beyond tensors that resuming needs; saved as JSON in each checkpoint."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0  # micro-batches of this epoch already consumed (this rank)
    flops: int = 0  # training FLOPs so far, all ranks
    train_seconds: float = 0.0  # wall-clock seconds of training steps, evaluation and saving excluded
    tokens: int = 0  # non-padding tokens (images: images) trained on so far, all ranks
    window_loss: float = 0.0  # sum of micro-batch losses since the last log, all ranks (skipped steps not)
    window_batches: int = 0  # their number
    skipped_steps: int = 0  # steps not applied for a non-finite loss or gradient (--skip_nonfinite_steps)
    # each rank's loss since the last reduction, at a stop between reductions (a preemption)
    pending_window_losses: list[float] = dataclasses.field(default_factory=list)


class NumericsGuard:
    """Notes non-finite steps on the device, so that the loop needs no host sync a step; read
    (``poll``) where the loop synchronises anyway.

    A step is non-finite when its loss on this rank is, or, outside fp16, its gradient norm
    (where computed): under fp16 the loss scaler skips overflowing gradients, as it should. With
    ``skip``, steps whose gradients are non-finite are skipped by the GradScaler (the same on
    every rank: the gradients are all-reduced) and counted, and their loss is left out."""

    def __init__(self, skip: bool, fp16: bool, device: torch.device):
        self.skip, self.fp16 = skip, fp16
        self.first_bad = torch.full((), math.inf, dtype=torch.float64, device=device)  # step number
        self.skipped = torch.zeros((), dtype=torch.float64, device=device)

    def after_step(self, step: int, loss: torch.Tensor, grad_norm: torch.Tensor | None) -> torch.Tensor:
        """The step's loss for the logging window (0 if skipped); notes a non-finite step."""
        bad = ~torch.isfinite(loss)
        if grad_norm is not None and not self.fp16:
            bad |= ~torch.isfinite(grad_norm)
        if self.skip:
            skipped = ~torch.isfinite(grad_norm)
            self.skipped += skipped
            bad &= ~skipped
            loss = torch.where(skipped, 0.0, loss)
        self.first_bad = torch.where(bad & self.first_bad.isinf(), step, self.first_bad)
        return loss

    def poll(self) -> tuple[bool, int]:
        """Whether this rank saw a non-finite step, and the steps skipped since the last poll."""
        skipped = int(self.skipped.item())
        self.skipped.zero_()
        return not bool(self.first_bad.isinf()), skipped


def compiled(model: nn.Module, args) -> nn.Module:
    """The model a training step runs: with --torch_compile, a torch.compile wrapper around it.
    The wrapper holds no weights of its own: the plain module keeps them, so what evaluation runs
    and checkpoints save is unchanged (no ``_orig_mod.`` in any key)."""
    if not args.torch_compile:
        return model
    # Around DDP, not inside it: dynamo then splits the graph at DDP's gradient buckets, so that
    # their all-reduce still overlaps the backward pass.
    return torch.compile(model, backend=args.torch_compile_backend)


class Trainer:
    def __init__(self, task: Task, args, ctx: Context, data: RunData, resume_from: Path | None,
                 preemption: Preemption | None = None):
        self.task, self.args, self.ctx, self.data = task, args, ctx, data
        self.preemption = preemption or Preemption((), 0, ctx.rank)
        # Before the optimiser: FSDP replaces the parameters with sharded ones.
        self.parallel = DataParallel(task.module, task.sharding_units(), args, ctx, task.unused_parameters,
                                     task.deferred)
        self.autocast = autocast_for(args, ctx.device, self.parallel.sharded)
        self.pin_memory = pin_memory_for(args.pin_memory, ctx.device)
        self.optimizer = build_optimizer(task.parameter_groups(args), args.learning_rate, args.adam_epsilon, ctx.device)
        self.scheduler = build_scheduler(self.optimizer, args)
        # fp16: loss scaling. --skip_nonfinite_steps without fp16: a constant scale of 1 (exact), for
        # the scaler's skip of non-finite gradients, which needs no host sync with a fused optimiser.
        self.scaler = torch.amp.GradScaler(ctx.device.type, init_scale=2.0**16 if args.fp16 else 1.0,
                                           enabled=args.fp16 or args.skip_nonfinite_steps)
        self.guard = NumericsGuard(args.skip_nonfinite_steps, args.fp16, ctx.device)
        self.model = compiled(self.parallel.model, args)
        self.state = TrainerState()
        self.resumed = resume_from is not None
        if self.resumed:
            self._restore(resume_from)
        self.log = on_main(self.ctx, "opening the logs in --output_dir",
                           lambda: RunLog(args.output_dir, self.state.step if self.resumed else None))

    # -- checkpoints -------------------------------------------------------------------------

    def _training_objects(self) -> dict:
        """What rank 0 saves with torch.save (an FSDP run's optimizer state is sharded: every rank's)."""
        optimizer = {} if self.parallel.sharded else {"optimizer": self.optimizer}
        objects = {**optimizer, "scheduler": self.scheduler, **self.task.training_objects()}
        if self.args.fp16:  # otherwise the scaler, if any, holds a constant scale of 1
            objects["scaler"] = self.scaler
        return objects

    def _restore(self, folder: Path):
        checkpoint.load_training_objects(folder, self._training_objects())
        self.state = TrainerState(**checkpoint.load_trainer_state(folder))
        if self.parallel.sharded:
            sharded_checkpoint.load_optimizer(self.task.module, self.optimizer, folder, self.state.step)
        rng = checkpoint.load_rng_state(folder, self.ctx.rank, self.ctx.world_size)
        if rng is None:
            self._reshard(folder)
        else:
            checkpoint.restore_rng_state(rng, self.ctx.device)

    def _reshard(self, folder: Path):
        """A checkpoint of another number of processes: an FSDP run's resumes (DCP reshards the
        optimizer state; the model is whole on disk) on the same data, if the global batch is the
        same; the RNG streams (dropout) cannot carry over and start afresh from the seed."""
        saved, now = checkpoint.saved_world_size(folder), self.ctx.world_size
        if not self.parallel.sharded:
            raise UserError(f"checkpoint '{folder}' was written by {saved} process(es), this run has {now}; resume "
                            f"with {saved} to continue exactly (an FSDP run, --data_parallel fsdp, may change it)")
        args, before = self.args, checkpoint.load_saved_args(folder)
        old = before["per_gpu_train_batch_size"] * before["gradient_accumulation_steps"] * saved
        new = args.per_gpu_train_batch_size * args.gradient_accumulation_steps * now
        if old != new:
            raise UserError(
                f"checkpoint '{folder}' trained on batches of {old} sequences ({saved} process(es)), this run's are "
                f"{new} ({now}): keep --per_gpu_train_batch_size x --gradient_accumulation_steps x processes at {old}, "
                "so that every step sees the batch it would have")
        state = self.state
        # The position in the epoch: as many sequences consumed over all ranks, counted in this run's batches.
        items = state.batches_in_epoch * before["per_gpu_train_batch_size"] * saved
        state.batches_in_epoch = items // (args.per_gpu_train_batch_size * now)
        if state.pending_window_losses:  # every rank's share of the window, on rank 0 now
            state.pending_window_losses = [sum(state.pending_window_losses)] + [0.0] * (now - 1)
        torch.manual_seed(args.seed + 1000003 * state.step + self.ctx.rank)
        on_main(self.ctx, "noting the resharding", lambda: print(
            f"resharding: checkpoint '{folder}' was written by {saved} process(es), this run has {now}; the data "
            "continues where it stopped, the dropout RNG starts afresh (not bit-identical to an unstopped run)",
            flush=True))

    def save(self):
        rng_states = gather_to_main(checkpoint.rng_state(self.ctx.device), self.ctx)
        step, save_weights = self.state.step, self.task.save
        if self.parallel.sharded:  # every rank writes its shards first, into the folder rank 0 prepares
            on_main(self.ctx, f"preparing the checkpoint of step {step}",
                    lambda: checkpoint.prepare_partial(self.args.output_dir, step))
            def write(partial: Path):
                self.task.save_sharded(partial, self.ctx)
                sharded_checkpoint.save_optimizer(self.task.module, self.optimizer, partial)

            checkpoint.write_together(self.args.output_dir, step, self.ctx, write)
            save_weights = None  # written
        on_main(self.ctx, f"saving the checkpoint of step {step}", lambda: checkpoint.save_checkpoint(
            self.args.output_dir, step, save_weights, self.data.processor, self._training_objects(), rng_states,
            dataclasses.asdict(self.state), self.args))

    # -- one optimiser step --------------------------------------------------------------------

    def _micro_step(self, batch: dict, sync: bool, step: int) -> torch.Tensor:
        batch = {name: t.to(self.ctx.device, non_blocking=True) for name, t in batch.items()}
        with self.parallel.accumulating(sync):
            with self.autocast():
                loss = self.task.loss(self.model, batch) * self.args.mlm_ratio
            if fault_injection.nan_at("train_step", step, self.ctx.rank):
                loss = loss * math.nan
            fault_injection.at("train_step", step, self.ctx.rank)
            self.scaler.scale(loss / self.args.gradient_accumulation_steps).backward()
        return loss.detach()

    def _optimizer_step(self) -> torch.Tensor | None:
        """Returns the gradient norm where it is computed: when clipping or skipping non-finite steps."""
        args, norm = self.args, None
        if args.max_grad_norm > 0 or args.skip_nonfinite_steps:
            self.scaler.unscale_(self.optimizer)
            parameters = [p for p in self.task.module.parameters() if p.grad is not None]
            if args.max_grad_norm > 0:
                norm = local(torch.nn.utils.clip_grad_norm_(parameters, args.max_grad_norm))
            else:
                norm = local(torch.nn.utils.get_total_norm([p.grad for p in parameters]))
        self.scaler.step(self.optimizer)  # skips the update if the gradients are not finite (scaler enabled)
        self.scaler.update(None if args.fp16 else 1.0)
        self.scheduler.step()  # a skipped step still counts: the schedule follows the step number
        self.optimizer.zero_grad(set_to_none=True)
        return norm

    # -- the loop ------------------------------------------------------------------------------

    def train(self):
        args, state = self.args, self.state
        if not self.resumed:  # a resumed run has logged and saved its step already
            on_main(self.ctx, "writing train_log.txt", lambda: self.log.note(f"arguments: {vars(args)}"))
            if args.do_eval:
                self._log(train_loss=None)
            self.save()
        if self._stop_requested():  # before the first step: this step's checkpoint exists already
            self._stop()
        batches = training_batches(self.data.train, self.data.collate, self.ctx, args.per_gpu_train_batch_size,
                                   args.shuffle, args.seed, args.num_workers, state.epoch, state.batches_in_epoch,
                                   self.pin_memory, args.prefetch_factor,
                                   functools.partial(in_data_worker, self.preemption.signals),
                                   self.preemption.signals)
        window_loss = torch.zeros((), device=self.ctx.device)  # this rank's, since the last reduction
        if state.pending_window_losses:  # stopped between two reductions
            window_loss += state.pending_window_losses[self.ctx.rank]
            state.pending_window_losses = []
        pending = [0, 0, 0]  # FLOPs, tokens and micro-batches on this rank since the last reduction
        # The bar is closed on an error too, so that the error's message starts a line of its own;
        # the batches too, so that their DataLoader workers (which ignore the preemption signals)
        # are told to end, not left for the interpreter's exit to wait for.
        with tqdm(total=args.max_steps, initial=state.step, desc="training", unit="step",
                  disable=not self.ctx.is_main) as bar, contextlib.closing(batches):
            self.task.module.train()
            while state.step < args.max_steps:
                started = time.perf_counter()
                window_loss += self._train_step(batches, pending)
                state.step += 1
                bar.update()
                logging_now = args.logging_steps > 0 and state.step % args.logging_steps == 0
                saving_now = (args.ckpt_steps > 0 and state.step % args.ckpt_steps == 0) or state.step == args.max_steps
                stopping = state.step < args.max_steps and self._stop_requested()
                if logging_now or saving_now or stopping:  # a reduction: the counters are exact here
                    if self.ctx.device.type == "cuda":
                        torch.cuda.synchronize()  # so the step's time is counted as training
                    state.train_seconds += time.perf_counter() - started
                    regular = logging_now or saving_now
                    self._reduce(pending, window_loss if regular else None)
                    pending[:] = [0, 0, 0]
                    if regular:
                        window_loss.zero_()
                else:
                    state.train_seconds += time.perf_counter() - started
                if logging_now or state.step == args.max_steps:
                    self._log_window(bar)
                if stopping:
                    losses = gather_to_main(window_loss.item(), self.ctx)
                    state.pending_window_losses = losses if losses is not None else []
                if saving_now or stopping:
                    self.save()
                if stopping:
                    self._stop()
        if self.log:
            self.log.close()

    def _stop_requested(self) -> bool:
        return any_rank(self.preemption.requested, self.ctx)

    def _stop(self):
        """After the checkpoint of this step: say so, leave the marker, and end the run."""
        self.preemption.arm()  # the rest (the marker, the logs) must not outlast the grace time either
        state, received = self.state, self.preemption.received
        name = received or "a signal to another rank"
        where = checkpoint.checkpoint_dir(self.args.output_dir, state.step)

        def note():
            write_marker(self.args.output_dir, state.step, name, where)
            self.log.note(f"stopped by {name} after step {state.step}; checkpoint {where}; resume with "
                          "--should_continue")
            self.log.close()

        on_main(self.ctx, "writing preempted.json", note)
        raise Preempted(state.step, name)

    def _train_step(self, batches, pending: list[int]) -> torch.Tensor:
        """One optimiser step (step + 1); returns its loss on this rank for the logging window."""
        state, accumulation = self.state, self.args.gradient_accumulation_steps
        step, step_loss = state.step + 1, None  # step_loss: the sum of the micro-batch losses
        self.task.begin_step(step)
        for micro in range(accumulation):
            state.epoch, state.batches_in_epoch, batch = next(batches)
            loss = self._micro_step(batch, micro == accumulation - 1, step)
            pending[0] += self.task.train_flops(*self.data.shape(batch))
            pending[1] += self.data.units(batch)
            pending[2] += 1
            step_loss = loss if step_loss is None else step_loss + loss
        return self.guard.after_step(step, step_loss, self._optimizer_step())

    def _reduce(self, pending: list[int], window_loss: torch.Tensor | None):
        """Adds every rank's counters to the state (the same on every rank, so a checkpoint holds
        them all); stops, before anything is logged or saved, if a step was non-finite.
        ``window_loss`` None: the loss stays on each rank (a stop between two reductions)."""
        state = self.state
        bad, skipped = self.guard.poll()
        loss = window_loss.item() if window_loss is not None else 0.0
        flops, tokens, batches, loss, bad_ranks = all_reduce_sum([*pending, loss, float(bad)], self.ctx.device)
        if bad_ranks:
            step = int(all_reduce_min(self.guard.first_bad.item(), self.ctx.device))
            last = checkpoint.latest_checkpoint(self.args.output_dir)
            raise UserError(
                f"non-finite loss at step {step}; last good checkpoint: {last}; lower --learning_rate, use --bf16 "
                "instead of --fp16, or pass --skip_nonfinite_steps, and resume from it with --should_continue"
            )
        state.flops, state.tokens = state.flops + int(flops), state.tokens + int(tokens)
        # Skipped steps are the same on every rank (their gradients are all-reduced); their loss is left out.
        state.skipped_steps += skipped
        state.window_batches += int(batches) - skipped * self.args.gradient_accumulation_steps * self.ctx.world_size
        state.window_loss += loss

    def evaluate_only(self):
        metrics = self._evaluate()
        note = f"evaluation at step {self.state.step}: {metrics}"
        on_main(self.ctx, "writing train_log.txt", lambda: self.log.note(note))
        if self.log:
            self.log.close()
        return metrics

    # -- logging -------------------------------------------------------------------------------

    def _evaluate(self) -> dict:
        if self.data.eval is None:
            return {}
        return evaluate(self.task.eval_model(), self.data, self.ctx, self.args.per_gpu_eval_batch_size, self.autocast,
                        lockstep=self.parallel.sharded)

    def _log_window(self, bar):
        state = self.state
        # None: every step of the window was skipped
        train_loss = state.window_loss / state.window_batches if state.window_batches else None
        state.window_loss, state.window_batches = 0.0, 0
        metrics = self._log(train_loss)
        shown = {"loss": "skipped" if train_loss is None else f"{train_loss:.3f}"}
        if "eval_loss" in metrics:  # not without --do_eval: a nan there read as a diverged run
            shown["eval_loss"] = f"{metrics['eval_loss']:.3f}"
        bar.set_postfix(shown)

    def _log(self, train_loss: float | None) -> dict:
        state = self.state
        metrics = {"step": state.step, "epoch": state.epoch, "lr": self.scheduler.get_last_lr()[0],
                   "train_loss": train_loss, "train_ppl": perplexity(train_loss) if train_loss is not None else None,
                   "flops": state.flops, "train_seconds": state.train_seconds, self.data.unit: state.tokens}
        if self.args.skip_nonfinite_steps:
            metrics["skipped_steps"] = state.skipped_steps
        if self.args.do_eval:
            metrics.update(self._evaluate())
            fault_injection.at("eval", state.step, self.ctx.rank)
        on_main(self.ctx, f"writing the logs of step {state.step}", lambda: self.log.record(metrics))
        return metrics
