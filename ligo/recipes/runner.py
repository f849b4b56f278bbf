"""What every recipe shares: settings from the environment, running a command as a shell would,
training a run (skipped when finished, resumed when interrupted, timed), a job's clock and run
timings between its commands, and the parts of a RUN.md."""

import functools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ligo.base.atomic_write import write_json_atomic, write_text_atomic
from ligo.base.errors import UserError
from ligo.recipes.machine import describe_machine


class Environment:
    """Settings read from environment variables; empty counts as unset, as bash's ``${NAME:-default}``."""

    def __init__(self, env=None):
        self.env = os.environ if env is None else env

    def text(self, name: str, default: str = "") -> str:
        return self.env.get(name) or default

    def is_set(self, name: str) -> bool:
        return bool(self.env.get(name))

    def number(self, name: str, default: int, minimum: int = 0) -> int:
        value = self.env.get(name)
        if not value:
            return default
        number = int(value) if value.strip().isdigit() else None
        if number is None or number < minimum:
            raise UserError(f"{name}={value!r} is not a whole number of at least {minimum}; set {name} to one, or "
                            f"unset it for its default ({default})")
        return number

    def numbers(self, name: str, default: str) -> list[int]:
        value = self.text(name, default)
        if not value.split() or not all(word.isdigit() for word in value.split()):
            raise UserError(f"{name}={value!r} is not a list of whole numbers; set it to numbers separated by "
                            f"spaces, e.g. {default!r}")
        return [int(word) for word in value.split()]

    def python(self) -> str:
        return self.text("PYTHON", "python")


def shown(command: list[str], env: dict[str, str] | None = None) -> str:
    """The command as a user would type it."""
    return " ".join([*(f"{name}={shlex.quote(value)}" for name, value in (env or {}).items()), shlex.join(command)])


# Signals that a job's stopper sends to the process it started (kill, a cluster's SIGTERM, SLURM's
# USR1 warning): the command decides what they mean (a training run checkpoints and exits 75).
FORWARDED = (signal.SIGTERM, signal.SIGUSR1)


def call(command: list[str], env: dict[str, str] | None = None, capture: bool = False) -> str | None:
    """Print COMMAND (with ENV's additions in front), run it, and end this process as it ended (code
    or signal), unless it succeeded; returns its output when CAPTURE."""
    print(f"+ {shown(command, env)}", flush=True)
    child = None

    def forward(number, _frame):
        if child is not None:
            child.send_signal(number)

    # SIGINT reaches the command from the terminal itself: this process waits for the command's end.
    # (A handler, not SIG_IGN, which the command would inherit.)
    handlers = {number: signal.signal(number, forward) for number in FORWARDED}
    handlers[signal.SIGINT] = signal.signal(signal.SIGINT, lambda _number, _frame: None)
    try:
        child = subprocess.Popen(command, env={**os.environ, **env} if env else None,
                                 stdout=subprocess.PIPE if capture else None, text=True)
        output, _ = child.communicate()
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    if child.returncode < 0:  # killed by a signal: die of it too, so that the shell above sees the same
        if -child.returncode not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-child.returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -child.returncode)
        sys.exit(128 - child.returncode)  # as a shell reports it, should this process outlive the signal
    if child.returncode:
        sys.exit(child.returncode)
    return output


class Job:
    """A recipe's clock and its runs' wall times, kept between its commands in RUNS/.NAME-job.json:
    ``begin`` starts it, every ``train`` adds a row, the RUN.md reads it."""

    def __init__(self, runs: str, name: str):
        self.path = Path(runs) / f".{name}-job.json"

    def begin(self, job_started: int | None = None):
        now = int(time.time())
        write_json_atomic(self.path, {"begun": now, "job_started": job_started or now, "training_started": None,
                                      "timings": []})

    def state(self) -> dict:
        if not self.path.is_file():
            raise UserError(f"{self.path} is missing: this job was not begun; run its recipe's 'begin' command "
                            "first (the scripts under scripts/ do)")
        return json.loads(self.path.read_text(encoding="utf-8"))

    def _update(self, change):
        if self.path.is_file():  # else a command typed by hand, outside any job
            state = self.state()
            change(state)
            write_json_atomic(self.path, state)

    def training_starts(self):
        """The training clock starts at the job's first run (its RUN.md: "training and report")."""
        now = int(time.time())
        self._update(lambda state: state.update(training_started=state["training_started"] or now))

    def record(self, out: str, steps: int, wall: str):
        self._update(lambda state: state["timings"].append(f"| `{out}` | {steps} | {wall} |"))


def train(out: str, steps: int, command: list[str], tag: str, job: Job | None = None):
    """Run the training COMMAND of the run in OUT unless its checkpoint of STEPS exists; COMMAND
    resumes an interrupted run (--should_continue). Prints and records its wall time."""
    # Imported here: it loads torch (seconds), which only the commands that train need.
    from ligo.training.checkpoint import checkpoint_dir

    if job:
        job.training_starts()
    if checkpoint_dir(out, steps).is_dir():
        print(f"[{tag}] {out} is finished ({steps} steps)", flush=True)
        if job:
            job.record(out, steps, "reused")
        return
    print(f"[{tag}] training {out}", flush=True)
    started = int(time.time())
    call(command)
    seconds = int(time.time()) - started
    print(f"[{tag}] {out}: {seconds} s", flush=True)
    if job:
        job.record(out, steps, f"{seconds} s")


def training_command(python: str, entry: str, config: str, out: str, steps: int, *, batch=(), flags=()) -> list[str]:
    """An entry script's command: the config file's recipe, BATCH flags, the run and its steps, then FLAGS."""
    return [python, entry, "--config", config, *batch, "--output_dir", out, "--max_steps", str(steps),
            "--should_continue", *flags]


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def run_md_head(title: str, command: str) -> list[str]:
    """A RUN.md's first lines: what it is, the command, the machine and the code."""
    return [f"# How this {title} was made", "", f"- command: {command}", *describe_machine()]


def timing_table(job_state: dict) -> list[str]:
    return ["", "| run | steps | wall time |", "|---|---|---|", *job_state["timings"]]


def write_run_md(path: str, lines: list[str]):
    write_text_atomic(path, "".join(f"{line}\n" for line in lines))


def take(args: list[str], *names: str, flags: bool = True) -> list:
    """NAMES's values from the front of ARGS, then (FLAGS) the list of what follows, for the command."""
    if len(args) < len(names) or any(arg.startswith("--") for arg in args[:len(names)]) or (
            not flags and len(args) > len(names)):
        expected = " ".join([*names, "[FLAGS...]"] if flags else names) or "no arguments"
        raise UserError(f"expected {expected}, got {shlex.join(args) or 'nothing'}")
    return [*args[:len(names)], list(args[len(names):])] if flags else list(args)


def dispatch_on(argv: list[str] | None, usage: str, names, what: str, build, commands: dict,
                hint_without_name: str | None = None):
    """``python -m ... NAME COMMAND ARGS``: ``build(NAME)`` (NAME one of ``names``, ``what`` it is), then
    ``commands[COMMAND](built, ARGS)``. ``hint_without_name``: the error when NAME is left out."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return None
    if argv[0] not in names:
        if hint_without_name is not None and argv[0] in commands:
            raise UserError(hint_without_name)
        raise UserError(f"'{argv[0]}' is not {what}; use one of: {', '.join(names)}")
    built = build(argv[0])
    return dispatch({name: functools.partial(command, built) for name, command in commands.items()}, argv[1:], usage)


def dispatch(commands: dict, argv: list[str], usage: str):
    """Run the command ARGV[0] of COMMANDS with the rest of ARGV."""
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return None
    if argv[0] not in commands:
        raise UserError(f"'{argv[0]}' is not a command here; use one of: {', '.join(commands)}")
    return commands[argv[0]](argv[1:])
