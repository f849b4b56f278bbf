"""The GPU check (scripts/gpu_check.sh, which documents its stages and settings): short runs of
gpu_table1.sh's models, their speeds and a forecast of that job, the CUDA-relevant tests in the
time left, and check.md."""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ligo.base.errors import exit_on_user_error
from ligo.recipes import gpu_metrics
from ligo.recipes.gpu_data import SAMPLE, fetch_dump, make_sample, sample_tokenizer
from ligo.recipes.gpu_settings import (
    TABLE1_LARGE_CONFIG,
    TABLE1_LARGE_STEPS,
    TABLE1_SMALL_CONFIG,
    TABLE1_SMALL_STEPS,
    Environment,
    Gpu,
    nonempty,
    probe_gpu,
    python,
    recipe,
    run,
    single_threaded_on_cpu,
    tokenizer_size,
    write_tiny_configs,
)
from ligo.recipes.machine import commit, cpu, nvidia_smi

# The suite's tests that behave differently with CUDA: every test whose code mentions it
# (tests/test_gpu_scripts.py checks that this list stays complete).
CUDA_TESTS = [
    "tests/test_gpu_options.py",
    "tests/test_arguments.py::test_gpu_node_options_are_off_by_default",
    "tests/test_arguments.py::test_pin_memory_on_without_a_gpu_is_refused",
    "tests/test_arguments.py::test_inductor_without_a_cpp_compiler_is_refused",
    "tests/test_pretraining.py::test_bf16_autocast_trains_on_cpu",
    "tests/test_pretraining.py::test_fp16_without_a_gpu_is_a_clear_error",
    "tests/test_glue.py::test_half_precision_on_cpu_is_refused",
]
# gpu_table1.sh's models and batch, so that the speeds measured are the ones it will run at.
GPU_SIZES = {"small_steps": 200, "operator_steps": 20, "large_steps": 200, "batch": 128, "eval_batch": 256,
             "block": 126, "workers": 4}
TINY_SIZES = {"small_steps": 6, "operator_steps": 2, "large_steps": 6, "batch": 8, "eval_batch": 128,
              "block": 62, "workers": 0}
RUN_LIMIT = 120  # seconds a run may take


@dataclass
class Settings:
    tiny: bool
    out: Path
    runs: Path
    data: Path
    tokenizer: Path
    budget: int
    small_steps: int
    operator_steps: int
    large_steps: int
    batch: int
    eval_batch: int
    block: int
    workers: int
    flags: list[str]
    pytest: str
    peak: float | None


def read_settings(env: Environment, gpu: Gpu) -> Settings:
    """GPU_CHECK_*: tiny settings without a GPU or with GPU_CHECK_TINY=1."""
    tiny = env.switch("GPU_CHECK_TINY") if gpu.count else True
    sizes = TINY_SIZES if tiny else GPU_SIZES
    return Settings(
        tiny=tiny,
        out=Path(env.text("GPU_CHECK_OUT", "runs/gpu-check/report" if tiny else "results/gpu")),
        runs=Path(env.text("GPU_CHECK_RUNS", "runs/gpu-check")),
        data=Path(env.text("GPU_CHECK_DATA", str(SAMPLE))),
        tokenizer=Path(env.text("GPU_CHECK_TOKENIZER", "data/tokenizers/bert-sample-uncased")),
        budget=env.number("GPU_CHECK_BUDGET", 230, minimum=0),
        small_steps=env.number("GPU_CHECK_SMALL_STEPS", sizes["small_steps"]),
        operator_steps=env.number("GPU_CHECK_OPERATOR_STEPS", sizes["operator_steps"]),
        large_steps=env.number("GPU_CHECK_LARGE_STEPS", sizes["large_steps"]),
        batch=env.number("GPU_CHECK_BATCH", sizes["batch"]),
        eval_batch=sizes["eval_batch"], block=sizes["block"], workers=sizes["workers"],
        flags=env.text("GPU_CHECK_FLAGS", "").split(),
        pytest=env.text("GPU_CHECK_PYTEST", " ".join(CUDA_TESTS)),
        peak=env.real("GPU_PEAK_TFLOPS"))


def table1_tokens() -> list[str]:
    """gpu_table1.sh's training tokens at its defaults, per run of the check (the grown run
    stands for its six large runs), for gpu_metrics.py's forecast."""
    job = recipe()
    sequence = int(job["per_gpu_train_batch_size"]) * (int(job["block_size"]) + 2)
    operator_steps = (TABLE1_LARGE_STEPS + 39) // 40  # mini_table1.sh's 2.5%
    return [f"small={TABLE1_SMALL_STEPS * sequence}", f"operator={operator_steps * sequence}",
            f"grown={6 * TABLE1_LARGE_STEPS * sequence}"]


def tee(log: Path):
    """From now on, what this process and its children print also goes to ``log``, as bash's
    ``exec > >(tee log) 2>&1``; returns the function that ends it."""
    sys.stdout.flush()
    sys.stderr.flush()
    reader, writer = os.pipe()
    terminal = open(os.dup(1), "wb")
    copy = open(log, "wb")

    def pump():
        streams = [terminal, copy]
        while chunk := os.read(reader, 1 << 16):
            for stream in list(streams):
                try:
                    stream.write(chunk)
                    stream.flush()
                except OSError:  # a closed terminal (`| head`): the log still gets everything
                    streams.remove(stream)
        os.close(reader)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    saved_stderr = os.dup(2)
    os.dup2(writer, 1)
    os.dup2(writer, 2)
    os.close(writer)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)

    def end():
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(terminal.fileno(), 1)
        os.dup2(saved_stderr, 2)
        thread.join(timeout=10)  # a run's leftover child may hold the pipe: not for long
        copy.close()

    return end


class Stages:
    """Runs the check's stages, never stopping at a failure; their rows of check.md."""

    def __init__(self):
        self.rows: list[str] = []
        self.failures = 0

    def run(self, name: str, action) -> bool:
        print(f"== gpu-check: {name}")
        started = int(time.time())
        status = action()
        took = int(time.time()) - started
        result = "ok"
        if status:
            result = f"failed (exit {status}{', time limit' if status == 124 else ''})"
            self.failures += 1
        print(f"[gpu-check] {name}: {result}, {took} s")
        self.rows.append(f"| {name} | {result} | {took} s |")
        return not status

    def skip(self, name: str, why: str) -> None:
        self.rows.append(f"| {name} | skipped: {why} | — |")
        print(f"[gpu-check] {name}: skipped ({why})")


def prepare_data(s: Settings) -> int:
    """The sample's text (made as `make mini` does when it is the default folder), its tokenizer,
    tokenised; then the models and the recipe of the runs."""
    if not (nonempty(s.data / "en.train.raw") and nonempty(s.data / "en.valid.raw")):
        if s.data != SAMPLE:
            print(f"error: GPU_CHECK_DATA={s.data} has no en.train.raw and en.valid.raw; point it to a folder "
                  "with both, or unset it", file=sys.stderr)
            return 1
        print(f"[gpu-check] {s.data} is missing: preparing it as make mini does "
              "(needs data/sample/enwiki-sample.xml.bz2 or network)")
        dump = fetch_dump()
        if not (dump and make_sample(s.data, dump)):
            print("error: no Wikipedia sample: run 'make mini' (or scripts/gpu_prepare.sh) on a machine with network "
                  "first and carry data/wiki-sample-cased (docs/gpu.md)", file=sys.stderr)
            return 1
    failed = sample_tokenizer(s.data, s.tokenizer)
    if failed:
        return failed
    if s.tiny:  # tiny models matched to the tokenizer
        write_tiny_configs(tokenizer_size(s.tokenizer), s.runs, "")
    else:
        shutil.copy(TABLE1_SMALL_CONFIG, s.runs / "small.json")
        shutil.copy(TABLE1_LARGE_CONFIG, s.runs / "large.json")
    (s.runs / "check.txt").write_text(f"""# written by scripts/gpu_check.sh
tokenizer_name = {s.tokenizer}
model_type = bert
block_size = {s.block}
do_train = true
train_data_file = {s.data}/en.train.raw
do_eval = true
eval_data_file = {s.data}/en.valid.raw
shuffle = true
mlm = true
per_gpu_train_batch_size = {s.batch}
per_gpu_eval_batch_size = {s.eval_batch}
learning_rate = 5e-4
weight_decay = 0.1
scheduler_type = linear
ckpt_steps = 100000
num_workers = {s.workers}
""")
    return 0


def train(s: Settings, gpu: Gpu, out: str, steps: int, entry: str, *flags: str):
    """A run of ``steps`` steps under the time limit, as a stage's action. bf16 autocast on a GPU
    only: on the CPU it is several times slower than float32, and run_grow_distributed.py --bf16
    fails there (the operator grows bfloat16 LayerNorm weights that CPU autocast leaves in float32)."""
    logging = steps // 4 if steps >= 8 else (steps // 2 if steps >= 2 else 1)
    precision = ["--bf16"] if gpu.count else []
    command = [python(), entry, "--config", str(s.runs / "check.txt"), "--output_dir", str(s.runs / out),
               "--max_steps", str(steps), "--logging_steps", str(logging), *precision, *s.flags, *flags]
    return lambda: run(command, timeout=RUN_LIMIT)


def train_all(s: Settings, gpu: Gpu, stages: Stages) -> None:
    """Data, then the three runs, each skipped (with a row) when the one before failed."""
    runs = s.runs
    ok = stages.run(f"data ({s.data}, {s.tokenizer})", lambda: prepare_data(s))
    if ok:
        ok = stages.run(f"pretraining, small model ({s.small_steps} steps)", train(
            s, gpu, "small", s.small_steps, "run_lm_distributed.py", "--config_name", str(runs / "small.json"),
            "--warmup_steps", str(s.small_steps // 40)))
    else:
        stages.skip("pretraining", "no data")
    if ok:
        ok = stages.run(f"LiGO operator ({s.operator_steps} steps)", train(
            s, gpu, "operator", s.operator_steps, "run_grow_distributed.py", "--config_name", str(runs / "large.json"),
            "--source_model_path", str(runs / "small"), "--tune_width", "--tune_depth",
            "--fuse_init_scheme", "stackbert_noisy", "rand", "--warmup_steps", str(s.operator_steps // 10)))
    else:
        stages.skip("LiGO operator", "no small model")
    if ok:
        stages.run(f"growth with the operator, large model ({s.large_steps} steps)", train(
            s, gpu, "ligo", s.large_steps, "run_lm_distributed.py", "--config_name", str(runs / "large.json"),
            "--grow_scheme", "ligo", "--source_model_path", str(runs / "small"),
            "--pretrained_ligo_path", str(runs / "operator"), "--warmup_steps", "0"))
    else:
        stages.skip("growth", "no operator")


def throughput(s: Settings, gpu: Gpu) -> int:
    """Tokens/s, FLOP/s and MFU of the runs; on a GPU, the forecast of gpu_table1.sh."""
    argv = ["--device", gpu.name, "--run", f"small={s.runs / 'small'}", "--run", f"operator={s.runs / 'operator'}",
            "--run", f"grown={s.runs / 'ligo'}", "--markdown", str(s.runs / "throughput.md")]
    if s.peak:
        argv += ["--peak_tflops", str(s.peak)]
    if not s.tiny:
        argv += ["--predict", *table1_tokens()]
    return gpu_metrics.main(argv)


def cuda_tests(s: Settings, stages: Stages, left: int) -> str:
    """The CUDA-relevant tests under what is left of the budget; pytest's summary line."""
    if s.pytest == "none":
        stages.skip("CUDA-relevant tests", "GPU_CHECK_PYTEST=none")
        return "not run"
    if left < 20:
        stages.skip("CUDA-relevant tests", f"only {left} s of the {s.budget} s budget left")
        return "not run"
    log = s.runs / "pytest.log"
    with open(log, "wb") as copy:
        stages.run(f"CUDA-relevant tests (time limit {left} s)", lambda: pytest_to(copy, left, s.pytest.split()))
    found = [line for line in log.read_text(errors="replace").splitlines()
             if re.search(r"passed|failed|error|skipped|no tests ran", line)]
    summary = found[-1] if found else "no summary (stopped?)"
    print(f"[gpu-check] tests: {summary}")
    return summary


def pytest_to(copy, timeout: int, args: list[str]) -> int:
    """pytest, its output also copied to ``copy``; 124 when stopped at ``timeout`` seconds."""
    command = [python(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stopped = threading.Event()
    timer = threading.Timer(timeout, lambda: (stopped.set(), process.terminate()))
    timer.start()
    for chunk in iter(lambda: process.stdout.read1(1 << 16), b""):
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        copy.write(chunk)
    status = process.wait()
    timer.cancel()
    return 124 if stopped.is_set() else status


def report(s: Settings, gpu: Gpu, stages: Stages, machine: dict, tests: str, total: int) -> str:
    if gpu.count and not s.tiny:
        title = f"Measured on `{gpu.name}` by `bash scripts/gpu_check.sh`."
    elif gpu.count:
        title = f"**Tiny settings (GPU_CHECK_TINY=1)** on `{gpu.name}`: a smoke test, not a measurement."
    else:
        title = ("**No GPU was found**: tiny settings on the CPU, a smoke test of the script; the figures are CPU "
                 "figures.")
    models = ("2L-32H -> 4L-64H (tiny)" if s.tiny else f"{TABLE1_SMALL_CONFIG} -> {TABLE1_LARGE_CONFIG}")
    precision = "bf16 autocast" if gpu.count else "float32 (no GPU: bf16 only on a GPU)"
    table = s.runs / "throughput.md"
    return "\n".join([
        "# GPU check", "", title, "",
        f"- nvidia-smi: {machine['smi']}",
        f"- torch {gpu.torch}, CUDA {gpu.cuda}; {machine['cpu']}",
        f"- commit: {machine['commit']}",
        f"- finished: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; whole check: {total} s "
        f"(budget {s.budget} s)",
        f"- models: {models}; {s.batch} sequences of {s.block + 2} tokens a step, {precision}; steps: small "
        f"{s.small_steps}, operator {s.operator_steps}, grown {s.large_steps}; data `{s.data}`, tokenizer "
        f"`{s.tokenizer}`",
        f"- tests: {tests}", "",
        "| stage | result | wall time |", "|---|---|---|", *stages.rows, "",
        table.read_text().rstrip("\n") if table.is_file() else "No throughput: no run finished.", "",
        "Raw log: check.log beside this file.", ""])


@exit_on_user_error
def main() -> int:
    gpu = probe_gpu()
    started = int(time.time())  # the budget counts from here, as gpu_env.sh's probe of the GPU ended
    s = read_settings(Environment(), gpu)
    single_threaded_on_cpu(gpu)
    s.out.mkdir(parents=True, exist_ok=True)
    s.runs.mkdir(parents=True, exist_ok=True)
    end_tee = tee(s.out / "check.log")
    try:
        return check(s, gpu, started)
    finally:
        end_tee()


def check(s: Settings, gpu: Gpu, started: int) -> int:
    """The stages and check.md; 1 if a stage failed."""
    machine = {"smi": nvidia_smi() or "none (no nvidia-smi or no GPU)", "cpu": cpu(), "commit": commit()}
    print(f"[gpu-check] nvidia-smi: {machine['smi']}")
    print(f"[gpu-check] torch {gpu.torch} (CUDA {gpu.cuda}), {machine['cpu']}, commit {machine['commit']}")
    if gpu.count:
        print(f"[gpu-check] GPU: {gpu.name} ({gpu.count} visible); runs use the first")
        if s.tiny:
            print("[gpu-check] GPU_CHECK_TINY=1: tiny settings, the figures say little about this GPU")
    else:
        print("[gpu-check] NO GPU FOUND: running tiny settings on the CPU; these figures are CPU figures, MFU unknown")
    for old in ("small", "operator", "ligo"):
        shutil.rmtree(s.runs / old, ignore_errors=True)
    stages = Stages()
    train_all(s, gpu, stages)
    stages.run("throughput and MFU", lambda: throughput(s, gpu))
    tests = cuda_tests(s, stages, s.budget - (int(time.time()) - started) - 5)
    total = int(time.time()) - started
    (s.out / "check.md").write_text(report(s, gpu, stages, machine, tests, total))
    print(f"[gpu-check] wrote {s.out}/check.md and {s.out}/check.log ({total} s, {stages.failures} failed stage(s))")
    return 1 if stages.failures else 0

if __name__ == "__main__":
    sys.exit(main())
