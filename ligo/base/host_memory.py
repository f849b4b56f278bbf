"""Host memory: keep what the process frees for its next step, instead of returning it to the OS.

glibc's malloc serves large blocks (activations, gradients, the LiGO operator's grown weights:
tens of MB each) with a fresh ``mmap`` and unmaps them when they are freed, so every training
step page-faults its working set in again and the kernel zeroes each page first. With mmap and
trimming off, freed blocks stay in the heap and the next step reuses them. Measured on 2 CPU
cores, each in its own process: a 2L-128H step at batch 32x128 4-18% faster across runs; at BERT-Base
shapes (vocab 2000, batch 32x128) a plain step 16.5 -> 14.3 s and a LiGO operator step
17.9 -> 15.9 s, peak memory -0.5% and +2.2%. The heap then never shrinks, and can hold more
free memory than a step uses (a lone 64 MB tensor reallocated each step settles at 339 MB).
GPU memory is not concerned (PyTorch's CUDA allocator caches it already).
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
