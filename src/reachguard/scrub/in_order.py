"""Encode pieces of the output on worker threads, write them in list order: both writers' loop.

Why: Arrow releases the GIL while it filters, takes and CSV-encodes, so encoding runs on every
core while one thread appends the results to the files in the order of the list.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

Piece = TypeVar("Piece")
Encoded = TypeVar("Encoded")


def encode_in_order(pieces: Iterable[Piece], encode: Callable[[Piece], Encoded], emit: Callable[[Encoded], int],
                    progress: Callable[[int], None], threads: int | None, depth: int, name: str) -> None:
    """`emit(encode(piece))` for each piece in order, `encode` on `threads` workers with at most
    `depth` × workers pieces in flight; `emit` returns the rows it wrote, `progress` gets the
    running total. On an error, pieces not yet started are dropped and the error propagates."""
    workers = max(1, threads or os.cpu_count() or 1)
    done = 0
    pending: deque[Future[Encoded]] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    try:
        for piece in pieces:
            pending.append(pool.submit(encode, piece))
            while len(pending) > depth * workers or (pending and pending[0].done()):
                done += emit(pending.popleft().result())
                progress(done)
        while pending:
            done += emit(pending.popleft().result())
            progress(done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
