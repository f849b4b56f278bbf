"""Preemption: a cluster that stops a job sends it a signal first (SLURM: SIGTERM, then SIGKILL
after its grace time; ``--signal=USR1@300`` a warning before the time limit). On one of
``--preempt_signals``, every rank finishes its current optimiser step, rank 0 writes a
checkpoint (atomically, as always) and ``preempted.json`` beside it, and every process exits
with ``EXIT_PREEMPTED``; ``--should_continue`` then resumes as if never stopped.

A second signal, or ``--preempt_grace_seconds`` running out before the checkpoint is written,
stops the process at once: the checkpoint being written is left unfinished, never taken for a
checkpoint, and removed on resume. The same signal arriving twice within ``REPEAT_SECONDS``
counts once: SLURM signals every process of a job step and torchrun forwards the signal it gets
to its workers, so a worker receives it twice, the forwarded copy late on a loaded node.

Signals are read by a thread from Python's wakeup file descriptor, not by a Python-level
handler: a main thread blocked in a collective (waiting for a rank that is gone) runs no Python
handler, but the thread still sees the second signal and stops the process.

The entry scripts hold SIGTERM and SIGUSR1 from their first line (ligo/base/startup_signals.py);
one that arrived before this handling was installed counts as received here, and the run stops
before it loads anything (``preempted.json`` names the last checkpoint, if any).
"""

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from ligo.base import startup_signals
from ligo.base.atomic_write import describe_os_error, write_json_atomic
from ligo.base.errors import UserError
from ligo.base.parent_death import die_with_parent

EXIT_PREEMPTED = 75  # sysexits.h EX_TEMPFAIL: "try again later"
MARKER = "preempted.json"  # in --output_dir while the run is stopped by a signal, not finished
REPEAT_SECONDS = 5.0  # generous: a copy forwarded on a loaded node may come seconds late
DEFAULT_SIGNALS = tuple(number.name for number in startup_signals.HELD)


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
    """Raised once the stop's checkpoint and marker are written: by the training loop, or by a run
    signalled during its start-up (``at_start``: nothing trained, no new checkpoint)."""

    def __init__(self, step: int, signal_name: str, at_start: bool = False):
        super().__init__(f"stopped by {signal_name} during start-up, before training from step {step}" if at_start
                         else f"stopped by {signal_name} at step {step}")
        self.step, self.signal_name, self.at_start = step, signal_name, at_start


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
            startup_signals.release()  # to their default action: one held during start-up kills now
            return self
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for number in self.signals:
            # A Python-level handler only replaces the default action (death); the thread acts.
            self._previous[number] = signal.signal(number, _ignore)
        threading.Thread(target=self._watch, name="preemption-signals", daemon=True).start()
        # Taken over here, not left to the thread, so that the run sees it before it loads anything;
        # delivered on release, the thread then sees it again, within REPEAT_SECONDS: counted once.
        for number in startup_signals.pending(self.signals):
            self._received(number.name, at_start=True)
        startup_signals.release()
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

    def _received(self, name: str, at_start: bool = False):
        now = time.monotonic()
        if self._first_at is None:
            self._first_at, self.received = now, name
            what = " during start-up: stopping before training" if at_start else \
                ": finishing this step and writing a checkpoint"
            print(f"rank {self.rank}: {name} received{what}, then exiting with code {EXIT_PREEMPTED} (a second "
                  "signal stops at once)", file=sys.stderr, flush=True)
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
    the worker must not die of it mid-epoch, nor report it as its parent's), and dies with its rank.
    It starts with them blocked (``training_batches``' ``worker_signals``): one that came before
    this ran (torch's own worker handler would have died of it) was pending, and ignoring drops it."""
    die_with_parent()
    signal.set_wakeup_fd(-1)
    for number in signals:
        signal.signal(number, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)


def write_marker(output_dir, step: int, signal_name: str, checkpoint: Path | None):
    """``preempted.json``: what a requeue script tests (torchrun does not pass its workers' exit code on).
    ``checkpoint`` is None for a run stopped during start-up before its first."""
    marker = Path(output_dir) / MARKER
    try:
        write_json_atomic(marker, {"step": step, "signal": signal_name,
                                   "checkpoint": None if checkpoint is None else str(checkpoint),
                                   "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    except OSError as err:  # a full disk: no marker, so no requeue; the user must free space first
        raise UserError(f"stopped by {signal_name} at step {step} but cannot write '{marker}': "
                        f"{describe_os_error(err)}; free disk space, then resume with --should_continue") from None


def remove_marker(output_dir):
    (Path(output_dir) / MARKER).unlink(missing_ok=True)
