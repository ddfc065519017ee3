import os
import platform
import subprocess
import sys

import pytest

from mirnet.allocator import USER_SETTINGS

# a step that makes and frees 64-MB tensors (above glibc's largest mmap threshold, 32 MB), run
# until the heap has settled; prints the page faults of four more steps
PROBE = """
import resource, sys, torch
from mirnet.allocator import keep_freed_memory
print(keep_freed_memory() if sys.argv[1] == "keep" else None)
x = torch.rand(16 * 2**20)
def step():
    return (torch.tanh(x) * 2 + x).sum()
for _ in range(6):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str, **settings: str) -> tuple[str, int]:
    """The probe run with the caller's environment, less any malloc settings of its own, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in USER_SETTINGS} | settings
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_kept_memory_is_reused_without_faulting_every_page_again():
    """Without it each 64-MB tensor is a fresh mapping: 16,384 pages zero-filled, three per step."""
    applied, kept = faults("keep")
    _, plain = faults("plain")
    assert applied == "True"
    assert plain > 4 * 3 * 10_000 and kept < 1_000


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_settings_from_the_environment_are_left_alone():
    applied, _ = faults("keep", MALLOC_TRIM_THRESHOLD_="131072")
    assert applied == "False"
