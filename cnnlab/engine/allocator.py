"""Keep freed memory for the next training step instead of handing it back to the system.

A training step allocates and frees the same arrays every time (layer outputs, gradients,
pooling's temporaries: several MB each). glibc's ``malloc`` gives a freed block at the top
of its heap back to the kernel once more than a few MB are free there, and the next step
then takes every page back with a page fault, which the kernel must also zero. Measured on
a 2-core VM: a LeNet-sized step spent ~15 % of its time in such faults, a small net half.

:func:`keep_freed_memory` tells glibc to keep up to ``TRIM_BYTES`` free at the top of its
heap and to serve blocks under ``MMAP_BYTES`` from it (glibc's own dynamic limit); bigger
blocks (datasets) are still mapped and unmapped on their own, so they are returned when
freed. All threads share one heap (one arena): what training threads freed can then be given
back in one call, ``malloc_trim(0)``, which the app makes after every job (per-thread arenas
kept ~60 MB after two sweep cells ran at once). It is called when ``cnnlab.engine`` is
imported; elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import platform

TRIM_BYTES = 128 << 20
MMAP_BYTES = 32 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # from glibc's malloc.h

_done = False


def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds and one arena (once); True when they were set."""
    global _done
    if _done:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    _done = all([mallopt(_M_ARENA_MAX, 1), mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES),
                 mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)])
    return _done
