"""A child process that dies with its parent: Linux's parent-death signal."""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent():
    """A worker whose launcher is gone (torchrun's agent SIGKILLed, a spawning parent lost, the rank
    of a DataLoader worker killed) is killed at once by the kernel, before it can write anything.
    Without it such workers slept on, holding their memory (and GPUs), until the requeued job
    stalled on them (a DataLoader worker notices its rank gone only at its next poll, seconds
    later). Elsewhere than Linux there is no such signal and nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the launcher died before the signal was set
        os.kill(os.getpid(), signal.SIGKILL)
