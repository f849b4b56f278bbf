"""Host memory: keep what the process frees for its next step, instead of returning it to the OS.

glibc's malloc serves large blocks (activations, gradients, the LiGO operator's grown weights:
tens of MB each) with a fresh ``mmap`` and unmaps them when they are freed, so every training
step page-faults its working set in again and the kernel zeroes each page first. On 2 CPU cores
that cost a plain 2L-128H step 5-20% and a LiGO operator step at BERT-Base shapes 25%
(1.6 GB faulted a step; bench/RESULTS.md). With mmap off and trimming off, freed blocks stay in
the heap and the next step reuses them; the process's peak memory is unchanged, only its
resident size no longer shrinks between steps. GPU memory is not affected (PyTorch's CUDA
allocator caches it already).
"""

import ctypes

# mallopt(3) parameters
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Make malloc keep freed memory (glibc; see the module docstring). Returns False where the C
    library is not glibc: its allocator then behaves as before, which is correct, only slower."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success. A trim threshold of -1 turns trimming off (mallopt(3)).
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, -1))
