"""The memory-allocator setting the server runs with, and handing freed memory back.

By default glibc hands freed blocks over 128 KiB back to the kernel at once (and unmaps each such
block), so a request that works on megabyte arrays page-faults all of them in again, every time.
On the 2-core benchmark machine a 256x1024 MLP step took 21 ms that way and 12 ms with freed
memory kept for reuse (blocks under 32 MiB from the heap, the heap trimmed only past 128 MiB
free). glibc reads the setting once, when a process starts, so ``gradserve`` starts itself again
with it (service/__main__.py) unless the operator set ``GLIBC_TUNABLES``; bench/ runs every side
of every case with it. Other C libraries ignore the variable.

Kept memory is also memory not given back: a program that grew the heap to a gigabyte left the
worker's RSS there. :func:`trim` (glibc's ``malloc_trim``) returns the free pages of every arena
to the kernel; the run route calls it after a program that allocated ``trim_after_elements`` or
more, so the fast path of small programs keeps its reused blocks and a large program's memory goes
back (figures in docs of issue 17: bench/ and /work/notes).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728"


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()  # looked up once, at import


def trim() -> bool:
    """Hand the heap's free pages back to the kernel; False where that is not possible."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True
