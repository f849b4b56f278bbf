"""ligo.base.host_memory: freed host memory is reused, not page-faulted in again every step."""

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


def faults_of_last_steps(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True).stdout
    applied, faults = out.split()
    return applied, int(faults)


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
