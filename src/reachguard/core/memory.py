"""Process-wide memory settings for the jobs that hold millions of rows or objects (scrub, batches).

`paused_gc`: a batch that allocates a few containers per row and frees none (a decision batch,
a reputation ingest) only makes the cyclic collector rescan them; it is paused meanwhile.


Why: numpy asks the kernel for transparent huge pages (`madvise`) for every large array. On
VMs that hand freed memory back to the host (free page reporting, e.g. Firecracker with a
balloon), first touching a fresh 2 MB page costs far more than 512 small ones: measured on the
2-core bench VM, a new 80 MB array took 0.26-0.34 s to fill with huge pages and 0.03 s without,
and a 10M-row scrub spent 3.0-3.5 s in the kernel instead of 1.5-1.8 s (docs/scrub.md).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import Iterator

NUMPY_HUGE_PAGES = "NUMPY_MADVISE_HUGEPAGE"  # numpy's own switch, read once when numpy is imported


def small_pages_for_numpy() -> bool:
    """Turn numpy's huge-page advice off for this process unless the operator set it; True if
    it took effect (numpy not imported yet, so it will read the setting)."""
    os.environ.setdefault(NUMPY_HUGE_PAGES, "0")
    return "numpy" not in sys.modules


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile, back on after if it was on."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
