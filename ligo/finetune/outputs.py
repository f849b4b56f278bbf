"""What run_glue.py and run_squad.py do alike around the fine-tuning: the device, the output
folder's earlier results, per-seed statistics and the row's default name."""

import shutil
import statistics
from pathlib import Path

import torch

from ligo.base.errors import UserError


def pick_device(args) -> torch.device:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for flag in ("bf16", "fp16"):
        if getattr(args, flag) and device.type != "cuda":
            raise UserError(f"--{flag} needs a CUDA GPU and none is visible; leave --{flag} out to train in float32")
    return device


def check_output_dir(args, run_outputs, what: str) -> list[str]:
    """The earlier results (of ``run_outputs``) that --overwrite_output_dir will remove."""
    output_dir = Path(args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output_dir '{output_dir}' is a file; pass a folder")
    leftovers = [name for name in run_outputs if (output_dir / name).exists()]
    if leftovers and not args.overwrite_output_dir:
        raise UserError(f"--output_dir '{output_dir}' already holds {what} results ({', '.join(leftovers)}); pass "
                        "--overwrite_output_dir to replace them, or choose another folder")
    return leftovers


def clear_output_dir(output_dir, leftovers: list[str]) -> Path:
    output_dir = Path(output_dir)
    for name in leftovers:
        path = output_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return output_dir


def stats(values: list[float]) -> dict:
    std = statistics.stdev(values) if len(values) > 1 else 0.0  # sample std over seeds
    return {"mean": statistics.fmean(values), "std": std, "per_seed": values}


def default_name(model_name_or_path: str) -> str:
    path = Path(model_name_or_path)
    return path.resolve().name if path.exists() else model_name_or_path
