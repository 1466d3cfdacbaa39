"""Freed answer buffers go back to the system: peak RSS follows what is live.

glibc's malloc serves a large block (an answer body, the string decoded from it) from mmap
until the first such block is freed; then it raises its mmap threshold to that size, and every
later one comes from the heap of the thread that asked, which keeps its high-water mark. 600
answers of ~1 MB holding one astral-plane character (4 bytes a character once decoded) took
490 MiB of RSS for 80 MiB live at 16 threads, near the Task's 512 MiB limit, and 870 MiB at
--concurrency 64. A fixed threshold keeps such blocks on mmap, returned when freed: 90 and
140 MiB. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import functools

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 128 << 10  # glibc's default, kept fixed (setting it turns the raising off)


@functools.cache
def keep_large_blocks_on_mmap() -> bool:
    """Once per process; True when the C library took the setting."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to set
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
