"""Faults on purpose, for the tests of crash safety, rank failures and the numerics guard.

    LIGO_FAULT_INJECT="ACTION:POINT:STEP[:RANK]"

makes the process of rank RANK (default 0) do ACTION when it passes POINT at optimiser step
STEP (the step being trained, evaluated or saved). Actions:

    kill    SIGKILL itself: a crash, nothing cleaned up, nothing flushed
    raise   raise RuntimeError: a bug
    nan     make the loss of every micro-batch of the step NaN (POINT "train_step")
    hang    sleep for 10 minutes: a write or step that does not end (a stalled file system)

Points: "train_step" (a micro-batch's forward done, its backward not), "eval" (evaluation's
forward passes done, its metrics not yet recorded), "checkpoint_write" (rank 0 has written
the checkpoint's weights into its temporary folder, not the rest), "checkpoint_rename" (every
file written, not yet renamed into place). Unset, a call costs one dictionary look-up.
Nothing is remembered between calls: a step number, not an occurrence count, says when. A full
disk is not faked here: its tests fill a real one (tests/test_checkpoint_integrity.py).
"""

import os
import signal
import time

from ligo.base.errors import UserError

VARIABLE = "LIGO_FAULT_INJECT"
ACTIONS = ("kill", "raise", "nan", "hang")
HANG_SECONDS = 600
POINTS = ("train_step", "eval", "checkpoint_write", "checkpoint_rename")


def _planned(point: str, step: int, rank: int) -> str | None:
    """The action planned for this point, step and rank, if any."""
    spec = os.environ.get(VARIABLE)
    if not spec:
        return None
    fields = spec.split(":")
    if len(fields) not in (3, 4) or fields[0] not in ACTIONS or fields[1] not in POINTS or not all(
            f.isdigit() for f in fields[2:]):
        raise UserError(f"{VARIABLE}={spec!r}: expected ACTION:POINT:STEP[:RANK] with ACTION one of "
                        f"{', '.join(ACTIONS)} and POINT one of {', '.join(POINTS)}; unset it to train normally")
    action, planned_point, planned_step = fields[0], fields[1], int(fields[2])
    planned_rank = int(fields[3]) if len(fields) == 4 else 0
    return action if (planned_point, planned_step, planned_rank) == (point, step, rank) else None


def at(point: str, step: int, rank: int):
    """Crash, raise or hang here if that is planned."""
    action = _planned(point, step, rank)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise RuntimeError(f"fault injected by {VARIABLE} at {point}, step {step}, rank {rank}")
    elif action == "hang":
        print(f"{VARIABLE}: hanging at {point}, step {step}, rank {rank}", flush=True)
        time.sleep(HANG_SECONDS)


def nan_at(point: str, step: int, rank: int) -> bool:
    """Whether the loss computed at this point is to be made NaN."""
    return _planned(point, step, rank) == "nan"
