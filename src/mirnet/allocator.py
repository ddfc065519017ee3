"""Keep freed memory in the process: glibc's malloc otherwise maps every block above its mmap
threshold (at most 32 MB) afresh and returns it on free, so each large tensor of a forward or
backward pass (a separator's masks for a batch are ~50 MB) is zero-filled again page by page.
Measured on the shipped pair's separator, batch 32 of 3-s mixtures, one thread: 0.95 CPU-s per
batch, a quarter of it kernel time in 140,000 page faults; 0.69 CPU-s and ~500 faults with both
thresholds raised (docs/lab/benchmarks.md). Values are untouched: only where the bytes live.

The cost is resident memory: the heap keeps its peak instead of shrinking after each batch."""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
LIMIT = 2**31 - 1  # mallopt takes an int: 2 GiB, above any one tensor of these models
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process and the workers it forks. A no-op
    (False) on another C library, or where the user already tuned malloc through the environment."""
    if platform.libc_ver()[0] != "glibc" or any(k in os.environ for k in USER_SETTINGS):
        return False
    libc = ctypes.CDLL(None)
    # both: with only the mmap threshold raised, freed heap is still trimmed back to the kernel
    return bool(libc.mallopt(M_MMAP_THRESHOLD, LIMIT)) and bool(libc.mallopt(M_TRIM_THRESHOLD, LIMIT))


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``, which ignores the
    trim threshold ``keep_freed_memory`` raised): for a process that lives on between jobs, as a
    server does, so that one long clip's peak does not stay resident. False on another C library."""
    if platform.libc_ver()[0] != "glibc":
        return False
    return bool(ctypes.CDLL(None).malloc_trim(0))
