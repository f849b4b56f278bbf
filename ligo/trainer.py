"""The one training loop, shared by pretraining (run_lm_distributed.py) and LiGO operator
training (run_grow_distributed.py).

What is trained is a *task*: a module whose forward takes a masked-LM batch and returns an
output with ``.loss``, its parameter groups, its FLOPs per sequence, the model evaluation
runs, and how its weights are saved. The loop around it is the same for both: AdamW and a
warm-up schedule, gradient accumulation, clipping, torch.amp, DDP, evaluation and logging
every ``--logging_steps``, atomic checkpoints every ``--ckpt_steps`` (and at step 0 and at
the end), exact resume.
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
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ligo import checkpoint
from ligo.distributed import Context, all_reduce_sum, gather_to_main
from ligo.errors import UserError
from ligo.evaluate import evaluate, perplexity
from ligo.optim import build_optimizer, build_scheduler
from ligo.run_log import RunLog
from ligo.sampling import training_batches


class Task(Protocol):
    module: nn.Module

    def parameter_groups(self, args) -> list[dict]: ...

    def train_flops(self, batch_size: int, seq_len: int) -> int: ...  # one micro-batch, forward + backward

    def eval_model(self) -> nn.Module: ...

    def save(self, folder: Path) -> None: ...


@dataclasses.dataclass
class TrainerState:
    """Everything beyond tensors that resuming needs; saved as JSON in each checkpoint."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0  # micro-batches of this epoch already consumed (this rank)
    flops: int = 0  # training FLOPs so far, all ranks
    train_seconds: float = 0.0  # wall-clock seconds of training steps, evaluation and saving excluded
    tokens: int = 0  # non-padding tokens trained on so far, all ranks
    window_loss: float = 0.0  # sum of micro-batch losses since the last log (this rank)
    window_batches: int = 0


def autocast_for(args, device: torch.device):
    if args.fp16 and device.type != "cuda":
        raise UserError("--fp16 needs a CUDA GPU; on CPU use --bf16")
    dtype = torch.float16 if args.fp16 else torch.bfloat16
    return functools.partial(torch.autocast, device_type=device.type, dtype=dtype, enabled=args.fp16 or args.bf16)


class Trainer:
    def __init__(self, task: Task, args, ctx: Context, tokenizer, train_data, eval_data, collate, eval_collate,
                 resume_from: Path | None):
        self.task, self.args, self.ctx, self.tokenizer = task, args, ctx, tokenizer
        self.train_data, self.eval_data = train_data, eval_data
        self.collate, self.eval_collate = collate, eval_collate
        self.autocast = autocast_for(args, ctx.device)
        self.optimizer = build_optimizer(task.parameter_groups(args), args.learning_rate, args.adam_epsilon, ctx.device)
        self.scheduler = build_scheduler(self.optimizer, args)
        self.scaler = torch.amp.GradScaler(ctx.device.type, enabled=args.fp16)
        self.model = task.module
        if ctx.world_size > 1:
            device_ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
            self.model = DistributedDataParallel(task.module, device_ids=device_ids)
        self.state = TrainerState()
        if resume_from is not None:
            self._restore(resume_from)
        self.log = RunLog(args.output_dir, self.state.step if resume_from else None) if ctx.is_main else None

    # -- checkpoints -------------------------------------------------------------------------

    def _training_objects(self) -> dict:
        objects = {"optimizer": self.optimizer, "scheduler": self.scheduler}
        if self.scaler.is_enabled():
            objects["scaler"] = self.scaler
        return objects

    def _restore(self, folder: Path):
        checkpoint.load_training_objects(folder, self._training_objects())
        self.state = TrainerState(**checkpoint.load_trainer_state(folder))
        rng = checkpoint.load_rng_state(folder, self.ctx.rank, self.ctx.world_size)
        checkpoint.restore_rng_state(rng, self.ctx.device)

    def save(self):
        rng_states = gather_to_main(checkpoint.rng_state(self.ctx.device), self.ctx)
        if self.ctx.is_main:
            state = dataclasses.asdict(self.state)
            checkpoint.save_checkpoint(self.args.output_dir, self.state.step, self.task.save, self.tokenizer,
                                       self._training_objects(), rng_states, state, self.args)
        torch.distributed.barrier()

    # -- one optimiser step --------------------------------------------------------------------

    def _micro_step(self, batch: dict, sync: bool) -> torch.Tensor:
        batch = {name: t.to(self.ctx.device, non_blocking=True) for name, t in batch.items()}
        no_sync = self.model.no_sync if isinstance(self.model, DistributedDataParallel) and not sync else contextlib.nullcontext
        with no_sync():
            with self.autocast():
                loss = self.model(**batch).loss * self.args.mlm_ratio
            self.scaler.scale(loss / self.args.gradient_accumulation_steps).backward()
        return loss.detach()

    def _optimizer_step(self):
        if self.args.max_grad_norm > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.task.module.parameters(), self.args.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    # -- the loop ------------------------------------------------------------------------------

    def train(self):
        args, state = self.args, self.state
        if state.step == 0:
            if self.log:
                self.log.note(f"arguments: {vars(args)}")
            if args.do_eval:
                self._log(train_loss=None)
            self.save()
        batches = training_batches(self.train_data, self.collate, self.ctx, args.per_gpu_train_batch_size,
                                   args.shuffle, args.seed, args.num_workers, state.epoch, state.batches_in_epoch)
        window_loss = torch.tensor(state.window_loss, device=self.ctx.device)
        pending = [0, 0]  # FLOPs and tokens on this rank since the last reduction
        bar = tqdm(total=args.max_steps, initial=state.step, desc="training", unit="step", disable=not self.ctx.is_main)
        self.task.module.train()
        while state.step < args.max_steps:
            started = time.perf_counter()
            for micro in range(args.gradient_accumulation_steps):
                state.epoch, state.batches_in_epoch, batch = next(batches)
                pending[0] += self.task.train_flops(*batch["input_ids"].shape)
                pending[1] += int(batch["attention_mask"].sum())
                window_loss += self._micro_step(batch, sync=micro == args.gradient_accumulation_steps - 1)
                state.window_batches += 1
            self._optimizer_step()
            state.step += 1
            bar.update()
            logging_now = args.logging_steps > 0 and state.step % args.logging_steps == 0
            saving_now = (args.ckpt_steps > 0 and state.step % args.ckpt_steps == 0) or state.step == args.max_steps
            if logging_now or saving_now:  # a reduction: the counters are exact here
                if self.ctx.device.type == "cuda":
                    torch.cuda.synchronize()  # so the step's time is counted as training
                state.train_seconds += time.perf_counter() - started
                flops, tokens = all_reduce_sum(pending, self.ctx.device)
                state.flops, state.tokens, pending = state.flops + int(flops), state.tokens + int(tokens), [0, 0]
                state.window_loss = window_loss.item()
            else:
                state.train_seconds += time.perf_counter() - started
            if logging_now or (state.step == args.max_steps and state.window_batches):
                self._log_window(bar)
                window_loss.zero_()
            if saving_now:
                self.save()
        bar.close()
        if self.log:
            self.log.close()

    def evaluate_only(self):
        metrics = self._evaluate()
        if self.log:
            self.log.note(f"evaluation at step {self.state.step}: {metrics}")
            self.log.close()
        return metrics

    # -- logging -------------------------------------------------------------------------------

    def _evaluate(self) -> dict:
        if self.eval_data is None:
            return {}
        return evaluate(self.task.eval_model(), self.eval_data, self.eval_collate, self.ctx,
                        self.args.per_gpu_eval_batch_size, self.autocast)

    def _log_window(self, bar):
        state = self.state
        total, count = all_reduce_sum([state.window_loss, state.window_batches], self.ctx.device)
        train_loss = total / count
        if not math.isfinite(train_loss):
            last = checkpoint.latest_checkpoint(self.args.output_dir)
            raise FloatingPointError(f"training loss is {train_loss} at step {state.step}; last good checkpoint: {last}")
        state.window_loss, state.window_batches = 0.0, 0
        metrics = self._log(train_loss)
        bar.set_postfix(loss=f"{train_loss:.3f}", eval_loss=f"{metrics.get('eval_loss', float('nan')):.3f}")

    def _log(self, train_loss: float | None) -> dict:
        state = self.state
        metrics = {"step": state.step, "epoch": state.epoch, "lr": self.scheduler.get_last_lr()[0],
                   "train_loss": train_loss, "train_ppl": perplexity(train_loss) if train_loss is not None else None,
                   "flops": state.flops, "train_seconds": state.train_seconds, "tokens": state.tokens}
        if self.args.do_eval:
            metrics.update(self._evaluate())
        if self.log:
            self.log.record(metrics)
        return metrics
