"""Fine-tune one GLUE task with one seed, then evaluate it on the task's dev sets.

AdamW (no decay on biases and LayerNorm), linear warm-up then linear decay to 0 over all
steps, gradient clipping, optional bf16/fp16 autocast on CUDA. The seed fixes the new
head's initialisation, dropout and the order of the training examples.
"""

import math
import time

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup, set_seed

from ligo.finetune.glue.metrics import compute_metrics
from ligo.finetune.glue.model import load_classifier
from ligo.finetune.glue.tasks import GlueTask
from ligo.training.optim import build_optimizer, parameter_groups
from ligo.training.trainer import autocast_for


def total_steps(num_examples: int, args) -> int:
    per_epoch = math.ceil(num_examples / args.per_device_train_batch_size)
    steps = math.ceil(per_epoch * args.num_train_epochs)
    return min(steps, args.max_steps) if args.max_steps > 0 else steps


def finetune(task: GlueTask, seed: int, model_path: str, tokenizer, train: list[dict], evals: dict[str, list[dict]],
             args, device: torch.device) -> dict:
    """One run: the per-seed result record (metrics as fractions)."""
    set_seed(seed)  # python, numpy and torch (CPU and CUDA) generators
    model, new_weights = load_classifier(model_path, task)
    model.to(device)
    collate = DataCollatorWithPadding(tokenizer)
    autocast = autocast_for(args, device)
    start = time.perf_counter()
    steps, train_loss = train_model(model, train, collate, args, device, autocast, seed, f"{task.key} seed {seed}")
    seconds = time.perf_counter() - start
    results = {label: evaluate(model, task, features, collate, args, device, autocast)
               for label, features in evals.items()}
    return {"task": task.key, "seed": seed, "model": model_path, "train_examples": len(train), "steps": steps,
            "train_loss": train_loss, "train_seconds": round(seconds, 3), "new_weights": new_weights, "eval": results}


def train_model(model, features, collate, args, device, autocast, seed: int, desc: str) -> tuple[int, float]:
    """Train in place; returns the number of optimiser steps and the mean training loss."""
    loader = DataLoader(features, batch_size=args.per_device_train_batch_size, shuffle=True, collate_fn=collate,
                        generator=torch.Generator().manual_seed(seed))
    steps = total_steps(len(features), args)
    optimizer = build_optimizer(parameter_groups(model.named_parameters(), args.weight_decay), args.learning_rate,
                                args.adam_epsilon, device)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(steps * args.warmup_ratio), steps)
    scaler = torch.amp.GradScaler(device.type, enabled=args.fp16)
    loss_sum = torch.zeros((), device=device)
    model.train()
    done = 0
    with tqdm(total=steps, desc=desc, unit="step") as bar:
        while done < steps:  # epochs; a fractional last one stops mid-way
            for batch in loader:
                loss_sum += _step(model, batch, optimizer, scheduler, scaler, autocast, args, device)
                done += 1
                bar.update()
                if done == steps:
                    break
    return steps, loss_sum.item() / steps


def _step(model, batch, optimizer, scheduler, scaler, autocast, args, device) -> torch.Tensor:
    batch = {name: tensor.to(device, non_blocking=True) for name, tensor in batch.items()}
    with autocast():
        loss = model(**batch).loss
    scaler.scale(loss).backward()
    if args.max_grad_norm > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach().float()


@torch.no_grad()
def predict(model, task: GlueTask, features, collate, batch_size: int, device, autocast) -> np.ndarray:
    """Class ids, or scores for a regression task, in the order of ``features``."""
    model.eval()
    loader = DataLoader(features, batch_size=batch_size, collate_fn=collate)
    outputs = []
    for batch in tqdm(loader, desc="evaluating", unit="batch", leave=False):
        batch = {name: t.to(device, non_blocking=True) for name, t in batch.items() if name != "labels"}
        with autocast():
            logits = model(**batch).logits.float()
        outputs.append(logits[:, 0] if task.is_regression else logits.argmax(dim=-1))
    return torch.cat(outputs).cpu().numpy()


def evaluate(model, task: GlueTask, features, collate, args, device, autocast) -> dict[str, float]:
    predictions = predict(model, task, features, collate, args.per_device_eval_batch_size, device, autocast)
    labels = np.array([feature["labels"] for feature in features])
    return {"examples": len(features), **compute_metrics(task.metrics, predictions, labels)}
