"""The machine and the code a result was made on, as a RUN.md and the GPU check state them."""

import os
import subprocess


def commit() -> str:
    """HEAD, marked when the working tree (results/ aside) differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", ".", ":!results"], capture_output=True).returncode
    return f"{head} (with uncommitted changes)" if dirty else head


def cpu() -> str:
    """``N CPU cores (model name)``; N as ``nproc`` counts them without OMP_NUM_THREADS."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{len(os.sched_getaffinity(0))} CPU cores ({model})"


def torch_and_gpu() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return f"torch {torch.__version__} GPU: {gpu}"


def load_average() -> str:
    with open("/proc/loadavg", encoding="utf-8") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def describe_machine() -> list[str]:
    """A RUN.md's lines on the machine, the load and the code."""
    return [f"- machine: {cpu()}, {torch_and_gpu()}",
            f"- load average when written: {load_average()}",
            f"- commit: {commit()}"]


def nvidia_smi() -> str | None:
    """Each GPU's name, memory and driver as nvidia-smi states them; None without nvidia-smi or a GPU."""
    query = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]
    try:
        result = subprocess.run(query, capture_output=True, text=True)
    except OSError:
        return None
    return result.stdout.rstrip("\n") if result.returncode == 0 else None
