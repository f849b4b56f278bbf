"""The fine-tuning loop run_glue.py and run_squad.py share: AdamW (no decay on biases and
LayerNorm), linear warm-up then linear decay to 0 over all steps, gradient clipping, optional
bf16/fp16 autocast on CUDA; the seed fixes the order of the training examples."""

import math

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from ligo.training.optim import build_optimizer, parameter_groups


def total_steps(num_examples: int, args) -> int:
    per_epoch = math.ceil(num_examples / args.per_device_train_batch_size)
    steps = math.ceil(per_epoch * args.num_train_epochs)
    return min(steps, args.max_steps) if args.max_steps > 0 else steps


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
