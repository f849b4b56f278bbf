"""Stop signals during start-up. A training script's imports, argument checks and process-group
set-up take seconds before the preemption handling (ligo/training/preemption.py) is installed;
a scheduler's SIGTERM or SIGUSR1 in that window would kill the run with no ``preempted.json``,
so a requeue script would not requeue it.

So the entry scripts ``hold()`` these signals as their first statement: blocked, a signal waits
in the kernel (pending) instead of killing. The preemption handling takes over what is pending
(``pending``) and ``release()``-s them once its own handling is installed; a run that does not
handle them (evaluation only, ``--preempt_signals none``) releases them to their default
action, death, as if never held. The state lives in the kernel's signal mask, not in Python."""

import contextlib
import signal

HELD = (signal.SIGTERM, signal.SIGUSR1)  # a scheduler's stop and warning (SLURM --signal=USR1@T)


def hold():
    """Block ``HELD`` in this thread (the main thread, before it starts any other); processes and
    threads it starts inherit the mask until ``release``."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HELD)


def pending(signals) -> list[signal.Signals]:
    """Which of ``signals`` arrived while held and wait to be delivered."""
    waiting = signal.sigpending()
    return [signal.Signals(number) for number in signals if number in waiting]


def release():
    """Unblock ``HELD``: what is pending is delivered now, to the handlers installed by then."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)


@contextlib.contextmanager
def held(signals):
    """``signals`` blocked in this thread for the block: processes forked in it (DataLoader
    workers) start with them blocked, pending rather than acted on, until they unblock them; this
    thread gets what arrived meanwhile when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
