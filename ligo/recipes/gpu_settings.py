"""What the GPU scripts share: their settings, the GPU they run on, their tools, the tiny models."""

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ligo.base.errors import UserError

# gpu_table1.sh's job on one H200; gpu_check.sh measures its models and forecasts it.
TABLE1_RECIPE = "configs/bert_gpu_table1.txt"
TABLE1_SMALL_CONFIG = "configs/bert-gpu-6L-512H.json"
TABLE1_LARGE_CONFIG = "configs/bert-gpu-12L-768H.json"
TABLE1_SMALL_STEPS = 500
TABLE1_LARGE_STEPS = 1000


class Environment:
    """Settings as ``${NAME:-default}`` reads them (empty is unset), each checked."""

    def __init__(self, env: Mapping[str, str] | None = None):
        self.env = os.environ if env is None else env

    def text(self, name: str, default: str) -> str:
        return self.env.get(name) or default

    def given(self, name: str) -> bool:
        return bool(self.env.get(name))

    def number(self, name: str, default: int, minimum: int = 1) -> int:
        text = self.text(name, str(default))
        if not re.fullmatch(r"\d+", text) or int(text) < minimum:
            raise UserError(f"{name}={text} is not a whole number of at least {minimum}; set it to one "
                            f"(default {default}) or unset it")
        return int(text)

    def real(self, name: str) -> float | None:
        text = self.text(name, "")
        try:
            value = float(text) if text else None
        except ValueError:
            value = -1.0
        if value is not None and not value > 0:
            raise UserError(f"{name}={text} is not a positive number; set it to one (e.g. 989) or unset it")
        return value

    def switch(self, name: str) -> bool:
        text = self.text(name, "0")
        if text not in ("0", "1"):
            raise UserError(f"{name}={text} is neither 0 nor 1; set {name}=1 to switch it on, or unset it")
        return text == "1"


def python() -> str:
    """The interpreter of the tools (gpu_env.sh picks it); the tests set a warm one."""
    return os.environ.get("PYTHON") or sys.executable


@dataclass
class Gpu:
    count: int
    torch: str
    cuda: str
    name: str


PROBE = """import torch
n = torch.cuda.device_count() if torch.cuda.is_available() else 0
print(n, torch.__version__, torch.version.cuda or 'none', torch.cuda.get_device_name(0) if n else '')"""


def probe_gpu() -> Gpu:
    """The visible GPUs, asked in a process of their own: the scripts' own process keeps CUDA
    uninitialised, so no context of its own holds the GPU while the runs train."""
    result = subprocess.run([python(), "-c", PROBE], capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        raise UserError(f"torch does not import with {python()} ('{python()} -c \"import torch\"' says why); "
                        "set PYTHON to one that has it")
    count, torch, cuda, *name = result.stdout.strip().splitlines()[-1].split(" ", 3)
    return Gpu(int(count), torch, cuda, name[0] if name else "")


def single_threaded_on_cpu(gpu: Gpu) -> None:
    """Tiny models on a CPU: more threads than one only contend."""
    if not gpu.count and not os.environ.get("OMP_NUM_THREADS"):
        os.environ["OMP_NUM_THREADS"] = "1"


def run(command: list[str], timeout: float | None = None, out=None, env: Mapping[str, str] | None = None) -> int:
    """``command``'s exit status, its output and errors to ``out`` (a file; None: ours). Past
    ``timeout`` seconds it is stopped with SIGTERM and the status is 124, as timeout(1) does."""
    with subprocess.Popen(command, stdout=out, stderr=out, env=env) as process:
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            process.wait()
            return 124


def newer(path: Path, than: Path) -> bool:
    """``[ path -nt than ]`` for a ``than`` that exists."""
    return path.exists() and path.stat().st_mtime_ns > than.stat().st_mtime_ns


def nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def tokenizer_size(tokenizer: Path) -> int:
    """The tokenizer's length as ``len(tokenizer)`` counts it: its vocabulary and added tokens."""
    spec = json.loads((tokenizer / "tokenizer.json").read_text(encoding="utf-8"))
    return len(set(spec["model"]["vocab"]) | {token["content"] for token in spec.get("added_tokens", [])})


def write_tiny_configs(vocab: int, folder: Path, prefix: str) -> tuple[Path, Path]:
    """``folder/{prefix}small.json`` and ``large.json``: the tiny BERT pair (2L-32H -> 4L-64H) the
    scripts train on a CPU."""
    paths = []
    for name, layers, hidden in (("small", 2, 32), ("large", 4, 64)):
        config = {"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_act": "gelu",
                  "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": hidden // 32,
                  "intermediate_size": 4 * hidden, "max_position_embeddings": 130, "type_vocab_size": 2,
                  "vocab_size": vocab, "initializer_range": 0.02,
                  "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
        path = folder / f"{prefix}{name}.json"
        path.write_text(json.dumps(config, indent=2))
        paths.append(path)
    return paths[0], paths[1]


def recipe(path: str | Path = TABLE1_RECIPE) -> dict[str, str]:
    """A configargparse file's ``key = value`` lines."""
    return dict(re.findall(r"^(\w+) = (.*)$", Path(path).read_text(encoding="utf-8"), re.M))
