"""ligo.base.host_memory: freed host memory is reused, not page-faulted in again every step (DDP and
one-process runs); under FSDP, returned to the OS rather than kept as holes in the heap."""

import subprocess
import sys

STEPS = 24
# A training step's pattern: a large tensor allocated, written, freed; STEPS times. Prints the
# page faults of the last half of the steps, after (or without) keep_freed_memory(). Kept memory
# needs a few steps to settle (a freed block is reused once the heap holds a large enough one).
SCRIPT = f"""
import resource, sys, torch
from ligo.base.host_memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
faults = []
for _ in range({STEPS}):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(16 * 2**20).sum()  # 64 MB, above glibc's largest mmap threshold (32 MB)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, sum(faults[{STEPS} // 2:]))
"""
PAGES_OF_64MB = 64 * 2**20 // 4096


def measured(script: str, mode: str) -> tuple[str, int]:
    """``script`` run in a fresh python with ``mode``: whether the setting applied, and its count."""
    out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True).stdout
    applied, count = out.split()
    return applied, int(count)


def faults_of_last_steps(mode: str) -> tuple[str, int]:
    return measured(SCRIPT, mode)


def test_freed_memory_is_reused_without_page_faults():
    applied, faults = faults_of_last_steps("keep")
    assert applied == "True"  # this machine's C library is glibc
    # The default faults 64 MB in every step; kept, a step now and then still extends the heap
    # (a freed block can be one alignment padding too small), most reuse it.
    assert faults <= STEPS // 6 * PAGES_OF_64MB


def test_without_it_every_step_faults_its_tensors_in_again():
    """What keep_freed_memory() removes: glibc's default maps a fresh block for each large tensor."""
    _, faults = faults_of_last_steps("default")
    assert faults > STEPS // 2 * PAGES_OF_64MB * 0.9


# A layer-by-layer pattern: 16 MB freed (glibc then serves blocks below 16 MB from the heap), 32
# blocks of 4 MB allocated, every other one freed, leaving holes between live blocks. Prints the
# MB of resident memory that freeing them gave back to the OS.
HOLES = """
import sys, torch
from ligo.base.host_memory import return_freed_memory
applied = return_freed_memory() if sys.argv[1] == "return" else None
def resident_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS:")).split()[1]) // 1024
del_me = torch.ones(4 * 2**20)
del del_me
blocks = [torch.ones(2**20) for _ in range(32)]
before = resident_mb()
del blocks[::2]
print(applied, before - resident_mb())
"""


def returned_mb(mode: str) -> tuple[str, int]:
    return measured(HOLES, mode)


def test_an_fsdp_run_returns_freed_blocks_that_glibc_would_keep_as_holes():
    applied, returned = returned_mb("return")
    assert applied == "True" and returned >= 60  # the 16 freed blocks of 4 MB: 64 MB
    _, kept = returned_mb("default")
    assert kept <= 8  # glibc's default keeps the holes
