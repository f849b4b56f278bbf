"""Preemption: a cluster that stops a job sends it a signal first (SLURM: SIGTERM, then SIGKILL
after its grace time; ``--signal=USR1@300`` a warning before the time limit). On one of
``--preempt_signals``, every rank finishes its current optimiser step, rank 0 writes a
checkpoint (atomically, as always) and ``preempted.json`` beside it, and every process exits
with ``EXIT_PREEMPTED``; ``--should_continue`` then resumes as if never stopped.

A second signal, or ``--preempt_grace_seconds`` running out before the checkpoint is written,
stops the process at once: the checkpoint being written is left unfinished, never taken for a
checkpoint, and removed on resume. The same signal arriving twice within ``REPEAT_SECONDS``
counts once: SLURM signals every process of a job step and torchrun forwards the signal it gets
to its workers, so a worker receives it twice.

Signals are read by a thread from Python's wakeup file descriptor, not by a Python-level
handler: a main thread blocked in a collective (waiting for a rank that is gone) runs no Python
handler, but the thread still sees the second signal and stops the process.
"""

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from ligo.base.atomic_write import write_json_atomic
from ligo.base.errors import UserError

EXIT_PREEMPTED = 75  # sysexits.h EX_TEMPFAIL: "try again later"
MARKER = "preempted.json"  # in --output_dir while the run is stopped by a signal, not finished
REPEAT_SECONDS = 2.0
DEFAULT_SIGNALS = ("SIGTERM", "SIGUSR1")


def parse_signals(names: list[str]) -> tuple[signal.Signals, ...]:
    """``--preempt_signals``: names (SIGTERM, TERM, USR1...) or ``none``."""
    if [n.lower() for n in names] == ["none"]:
        return ()
    found = []
    for name in names:
        full = name.upper() if name.upper().startswith("SIG") else f"SIG{name.upper()}"
        number = getattr(signal.Signals, full, None)
        if number is None or number in (signal.SIGKILL, signal.SIGSTOP):
            raise UserError(f"--preempt_signals: '{name}' is not a signal a process can catch; use names such as "
                            "SIGTERM SIGUSR1 SIGINT, or none")
        found.append(number)
    return tuple(dict.fromkeys(found))


class Preempted(Exception):
    """Raised by the training loop once the stop's checkpoint is written."""

    def __init__(self, step: int, signal_name: str):
        super().__init__(f"stopped by {signal_name} at step {step}")
        self.step, self.signal_name = step, signal_name


class Preemption:
    """Watches the signals while it is entered (in the main thread). ``requested`` says whether
    this process received one; ``arm()`` starts the grace time when another rank did."""

    def __init__(self, signals: tuple[signal.Signals, ...], grace_seconds: float, rank: int):
        self.signals, self.grace_seconds, self.rank = signals, grace_seconds, rank
        self.received: str | None = None  # the first signal's name
        self._first_at: float | None = None
        self._armed = threading.Event()
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.received is not None

    def __enter__(self):
        if not self.signals:
            return self
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for number in self.signals:
            # A Python-level handler only replaces the default action (death); the thread acts.
            self._previous[number] = signal.signal(number, _ignore)
        threading.Thread(target=self._watch, name="preemption-signals", daemon=True).start()
        return self

    def __exit__(self, *exc):
        if not self.signals:
            return
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._writer.close()  # the thread's recv returns b"" and it ends
        self._armed.set()  # a grace timer, if running, has nothing left to guard

    def _watch(self):
        while data := self._reader.recv(64):
            for number in data:
                if number in self.signals:
                    self._received(signal.Signals(number).name)
        self._reader.close()

    def _received(self, name: str):
        now = time.monotonic()
        if self._first_at is None:
            self._first_at, self.received = now, name
            print(f"rank {self.rank}: {name} received: finishing this step and writing a checkpoint, then exiting "
                  f"with code {EXIT_PREEMPTED} (a second signal stops at once)", file=sys.stderr, flush=True)
            self.arm()
        elif now - self._first_at >= REPEAT_SECONDS:
            stop_now(f"rank {self.rank}: a second {name}: stopping at once, without a checkpoint; "
                     "--should_continue resumes from the last complete one")

    def arm(self):
        """Start the grace time (once): the stop was asked for here or on another rank."""
        if self.grace_seconds <= 0 or getattr(self, "_timer_started", False):
            return
        self._timer_started = True

        def expire():
            if not self._armed.wait(self.grace_seconds):
                stop_now(f"rank {self.rank}: --preempt_grace_seconds {self.grace_seconds:g} ran out before the "
                         "checkpoint was written: stopping at once; --should_continue resumes from the last "
                         "complete one")

        threading.Thread(target=expire, name="preemption-grace", daemon=True).start()


def _ignore(number, frame):
    pass


def stop_now(message: str):
    print(message, file=sys.stderr, flush=True)
    os._exit(EXIT_PREEMPTED)


def in_data_worker(signals: tuple[signal.Signals, ...], worker_id: int):
    """DataLoader ``worker_init_fn``: a worker ignores the signals (SLURM signals every process;
    the worker must not die of it mid-epoch, nor report it as its parent's)."""
    signal.set_wakeup_fd(-1)
    for number in signals:
        signal.signal(number, signal.SIG_IGN)


def write_marker(output_dir, step: int, signal_name: str, checkpoint: Path):
    """``preempted.json``: what a requeue script tests (torchrun does not pass its workers' exit code on)."""
    write_json_atomic(Path(output_dir) / MARKER, {"step": step, "signal": signal_name, "checkpoint": str(checkpoint),
                                                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def remove_marker(output_dir):
    (Path(output_dir) / MARKER).unlink(missing_ok=True)
