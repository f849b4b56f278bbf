"""Fine-tune one GLUE task with one seed (the shared loop, ligo/finetune/train.py), then
evaluate it on the task's dev sets. The seed fixes the new head's initialisation, dropout and
the order of the training examples."""

import time

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import DataCollatorWithPadding, set_seed

from ligo.base.autocast import autocast_for
from ligo.finetune.glue.metrics import compute_metrics
from ligo.finetune.glue.model import load_classifier
from ligo.finetune.glue.tasks import GlueTask
from ligo.finetune.train import train_model


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
