"""ligo.host_memory: freed host memory is reused, not page-faulted in again on the next step."""

import subprocess
import sys

# A training step's pattern: a large tensor allocated, written, freed; then again. Prints the
# page faults of the second round, after (or without) keep_freed_memory().
SCRIPT = """
import resource, sys, torch
from ligo.host_memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
def step():
    torch.ones(16 * 2**20).sum()  # 64 MB, above glibc's largest mmap threshold (32 MB)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES_OF_64MB = 64 * 2**20 // 4096


def faults_of_second_step(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True).stdout
    applied, faults = out.split()
    return applied, int(faults)


def test_freed_memory_is_reused_without_page_faults():
    applied, faults = faults_of_second_step("keep")
    assert applied == "True"  # this machine's C library is glibc
    assert faults < PAGES_OF_64MB // 10


def test_without_it_every_step_faults_its_tensors_in_again():
    """What keep_freed_memory() removes: glibc's default maps a fresh block for each large tensor."""
    _, faults = faults_of_second_step("default")
    assert faults > PAGES_OF_64MB // 2
