"""Plain CSV lists written back line for line: the scrub's fast path for the common file.

Why: most campaign lists are plain CSV — no quoted cell, `\\n` or (Excel) `\\r\\n` line ends. In
such a file every non-blank line is one row (DuckDB skips blank lines, and without quotes no cell can hold a
delimiter or a line break), so an output row can be the input line's own bytes: the same cells a
CSV reader gets from the Arrow writer's output (which quotes every text cell; tests compare the
two parsed), without loading the list's other columns into DuckDB or encoding them again.

How: the list is memory-mapped and its line ends found by numpy. Element i of a zero-copy Arrow
string array runs from one line end to the next, i.e. `"\\n" + row i` (`"\\r\\n" + row i`: the
offsets then point at each `\\r`); so the allowed file is the header, a filter of that array and
a final line end, and the rejected file the header, each rejected row followed by its reasons
cell (one `take` interleaving rows and the few distinct cells), and a final line end. Output
keeps the input's line ends. Anything that breaks the premise — a quote, a carriage return
other than in every line end, a line count, delimiters or a sampled number cell that disagrees
with what DuckDB loaded — sends the scrub back to the Arrow writer (output.py).
"""

from __future__ import annotations

import mmap
import os
import threading
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa

from reachguard.scrub.direct_file import OutputFile
from reachguard.scrub.in_order import encode_in_order

CHUNK_BYTES = 8 << 20  # of input lines per chunk; see write()
SAMPLE_ROWS = 1_000  # rows whose number cell is compared with DuckDB's before trusting the lines
_QUOTE = b'"'
_SLICE = 1 << 24


def is_plain(path: Path) -> bool:
    """Valid UTF-8 without a quote (a memchr scan, Arrow's check); carriage returns are
    checked when the lines are opened (they must all be in `\\r\\n` line ends).

    The UTF-8 check matters: a narrow load (rows.select) never decodes the other columns, so
    without it a GB18030 name column would be copied out instead of refused (INVALID_UTF8)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            if view.find(_QUOTE) >= 0:
                return False
            text = pa.LargeStringArray.from_buffers(1, pa.py_buffer(np.array([0, size], np.int64)), pa.py_buffer(view))
            try:
                text.validate(full=True)
            except pa.ArrowInvalid:
                return False
            finally:
                del text
            return True


class Lines:
    """The list's data rows as `"\\n" + row` strings over the memory-mapped file (no copy), and
    how many times `delimiter` occurs in the file."""

    def __init__(self, path: Path, delimiter: str):
        self._file = open(path, "rb")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        newlines, self.delimiters, returns = _scan(self._map, delimiter)
        size = len(self._map)
        data = np.frombuffer(self._map, np.uint8)
        # `\r\n` line ends: all of them, and no other carriage return (else `consistent` is False)
        self.newline = b"\r\n" if returns else b"\n"
        self.consistent = not returns or (returns == len(newlines) and int(newlines[0]) > 0
                                          and bool((data[newlines - 1] == 13).all()))
        del data
        ends = newlines - 1 if returns and self.consistent else newlines
        if not len(newlines) or newlines[-1] != size - 1:
            ends = np.append(ends, size)  # the last line has no line end: it ends at the file's end
        count = max(0, len(ends) - 1)
        self.rows: pa.LargeStringArray = pa.LargeStringArray.from_buffers(
            count, pa.py_buffer(ends.astype(np.int64, copy=False)), pa.py_buffer(self._map))
        blank = np.diff(ends) == len(self.newline)
        if blank.any():  # DuckDB skips blank lines; so must the row index
            kept = int(np.flatnonzero(~blank)[-1]) + 1 if (~blank).any() else 0
            if blank[:kept].any():
                self.rows = self.rows.filter(pa.array(~blank))  # a copy of the lines: blank lines inside
            else:
                self.rows = self.rows.slice(0, kept)  # blank lines only at the end (the usual case): no copy

    def __len__(self) -> int:
        return len(self.rows)

    def cell(self, row: int, column: int, delimiter: str) -> str:
        line = self.rows[row].as_py()[len(self.newline):]
        fields = line.split(delimiter)
        return fields[column] if column < len(fields) else ""

    def close(self) -> None:
        self.rows = pa.array([], pa.large_string())
        try:
            self._map.close()
        except BufferError:  # an array over the map is still referenced (an error's traceback): GC closes it
            pass
        self._file.close()


def _scan(view: mmap.mmap, delimiter: str) -> tuple[np.ndarray, int, int]:
    """The offset of every `\\n`, how many delimiters and how many `\\r` the file holds. In
    slices: a whole-file `data == 10` would be one more file-sized temporary for the kernel to
    hand out, and fresh pages are slow on a VM."""
    data = np.frombuffer(view, np.uint8)
    found, delimiters, returns = [np.empty(0, np.int64)], 0, 0
    for start in range(0, len(data), _SLICE):
        piece = data[start:start + _SLICE]
        found.append(np.flatnonzero(piece == 10) + start)
        delimiters += int(np.count_nonzero(piece == ord(delimiter)))
        returns += int(np.count_nonzero(piece == 13))
    return np.concatenate(found), delimiters, returns


class LinesAhead:
    """`Lines` built on a thread of its own while the scrub goes on: the scan is one core's
    numpy work, and dedup and the signature joins leave the machine's cores partly idle."""

    def __init__(self, path: Path, delimiter: str):
        self._lines: Lines | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path, delimiter), name="reachguard-scrub-lines-ahead",
                                        daemon=True)
        self._thread.start()

    def _run(self, path: Path, delimiter: str) -> None:
        try:
            _lower_this_threads_priority()
            self._lines = Lines(path, delimiter)
        except BaseException as exc:  # handed to take()
            self._error = exc

    def take(self) -> Lines:
        """The lines (the caller closes them); re-raises the scan's error."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        lines, self._lines = self._lines, None
        assert lines is not None, "take() is called once"
        return lines

    def close(self) -> None:
        self._thread.join()
        if self._lines is not None:
            self._lines.close()
            self._lines = None


def _lower_this_threads_priority() -> None:
    """Nice 19 for the calling thread only (Linux: a thread is a task of its own), so that the
    scan takes the cores' idle time and never the critical path's; where not possible, as is."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


def prove(lines: Lines, con: duckdb.DuckDBPyConnection, rows: int, columns: int, number_sql: str, number_index: int,
          delimiter: str) -> bool:
    """Whether the file's lines provably are DuckDB's rows. `number_sql` reads the number cell
    as text from `rg_src`.

    The proof: line ends as announced (`consistent`); as many non-blank lines as rows; as many
    delimiters as `columns - 1` per line, header included — in strict mode DuckDB refused any
    line with fewer, so this total shows that none has more (DuckDB silently drops extra
    trailing ones, `1,2,,`, which the Arrow writer would not write back); and a sample of number
    cells equal to what DuckDB read."""
    if not lines.consistent or len(lines) != rows or lines.delimiters != (rows + 1) * (columns - 1):
        return False
    sample = sorted({int(i) for i in np.linspace(0, rows - 1, min(rows, SAMPLE_ROWS))}) if rows else []
    if sample:
        con.register("rg_sample", pa.table({"rid": pa.array(sample, pa.int64())}))
        got = dict(con.execute(f"SELECT rowid, {number_sql} FROM rg_src WHERE rowid IN (SELECT rid FROM rg_sample)").fetchall())
        con.unregister("rg_sample")
        if any((got.get(i) or "") != lines.cell(i, number_index, delimiter) for i in sample):
            return False
    return True


def cell(text: str, delimiter: str) -> str:
    """One CSV cell, quoted only where it must be (as the input's own cells are: not at all)."""
    if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def header(names: list[str], delimiter: str) -> bytes:
    """The header line for these columns, without its line end."""
    return delimiter.join(cell(name, delimiter) for name in names).encode("utf-8")


def write(lines: Lines, codes: np.ndarray, labels: list[str], headers: tuple[bytes, bytes], temps: tuple[Path, Path],
          delimiter: str, progress: Callable[[int], None], threads: int | None = None) -> None:
    """Write the allowed (code 0) and rejected rows to `temps`; `headers` end without a line end.

    Chunks of rows are encoded on `threads` worker threads (Arrow releases the GIL) and written
    in list order. Chunks hold about CHUNK_BYTES of lines: Arrow's allocator (mimalloc) gives
    buffers past a few tens of MB fresh pages from the kernel each time, and on this VM writing
    the bench's 10M-row list alone in 1M-row chunks (60 MB buffers) took 1.2-1.9 s against
    0.25-0.34 s in 8 MiB chunks. (Inside a whole scrub the file writes themselves dominate.)"""
    suffixes = pa.array(["" if i == 0 else delimiter + cell(label, delimiter) for i, label in enumerate(labels)],
                        pa.large_string())

    def encode(bounds: tuple[int, int]) -> tuple[memoryview, memoryview, int]:
        start, stop = bounds
        part = lines.rows.slice(start, stop - start)
        part_codes = codes[start:stop]
        allowed = part.filter(pa.array(part_codes == 0))
        rejected_at = np.flatnonzero(part_codes != 0)
        # rows, then the suffixes; take [row, its suffix, row, its suffix, ...]
        pieces = pa.concat_arrays([part, suffixes])
        order = np.empty(2 * len(rejected_at), np.int64)
        order[0::2] = rejected_at
        order[1::2] = len(part) + part_codes[rejected_at]
        rejected = pieces.take(pa.array(order))
        return _bytes(allowed), _bytes(rejected), stop - start

    with OutputFile(temps[0]) as allowed_file, OutputFile(temps[1]) as rejected_file:
        allowed_file.write(headers[0])
        rejected_file.write(headers[1])

        def emit(parts: tuple[memoryview, memoryview, int]) -> int:
            allowed_file.write(parts[0])
            rejected_file.write(parts[1])
            return parts[2]

        step = _chunk_rows(lines)
        chunks = ((start, min(len(lines), start + step)) for start in range(0, len(lines), step))
        encode_in_order(chunks, encode, emit, progress, threads, depth=1, name="reachguard-scrub-lines")
        allowed_file.write(lines.newline)
        rejected_file.write(lines.newline)


def _chunk_rows(lines: Lines) -> int:
    """Rows per chunk: CHUNK_BYTES of the list's average line."""
    total = len(_bytes(lines.rows))
    return max(1, CHUNK_BYTES * len(lines) // max(1, total))


def _bytes(array: pa.Array) -> memoryview:
    """The concatenated values of a large_string array, without copying them."""
    if len(array) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(array.buffers()[1], np.int64, len(array) + 1, array.offset * 8)
    data = array.buffers()[2]
    return memoryview(data)[int(offsets[0]):int(offsets[-1])]
