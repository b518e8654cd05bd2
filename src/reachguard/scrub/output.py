"""Writing the allowed and rejected rows: every input column, input order, nothing half-written.

Why this way: the per-row status is one small integer column built in row order (numpy), glued
to the loaded input with a POSITIONAL JOIN, so no sort of the wide rows is ever needed. DuckDB
streams the result as Arrow batches and pyarrow writes them (its CSV writer is several times
faster than DuckDB's COPY here). Files are written under temporary names beside their targets
and renamed only when the whole scrub — including recording --reserve contacts — succeeded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from reachguard.scrub import passthrough
from reachguard.scrub.direct_file import OutputFile
from reachguard.scrub.in_order import encode_in_order
from reachguard.scrub.source import ScrubInputError, Source, file_stamp, quote_ident, text_sql

BATCH_ROWS = 200_000
RG_CODE = "__reachguard_code"  # the status column read beside the list's own (never written)


def is_parquet_path(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def default_rejected(out: Path) -> Path:
    """`allowed.csv` → `allowed.rejected.csv` (same directory, same format)."""
    return out.with_name(f"{out.stem}.rejected{out.suffix or '.csv'}")


def temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.rg-tmp-{os.getpid()}")


def reasons_column(source: Source) -> str:
    """`reasons`, unless the input already has a column of that name."""
    taken = {c.casefold() for c in source.columns}
    name = "reasons"
    while name.casefold() in taken:
        name = "rg_" + name
    return name


def write(con: duckdb.DuckDBPyConnection, source: Source, codes: np.ndarray, labels: list[str],
          targets: tuple[Path, Path], progress: Callable[[int], None], threads: int | None = None,
          ahead: passthrough.LinesAhead | None = None) -> tuple[Path, Path]:
    """Write allowed (code 0) and rejected rows to temporary files; return their paths.

    A plain CSV list is copied line for line (passthrough.py) when its lines (scanned `ahead`,
    or now) provably are the loaded rows: its rows come out as the very bytes they came in. Any
    other list, or a plain one that fails that proof, goes through Arrow, which quotes every
    text cell."""
    if not source.plain:
        return write_outputs(con, source, codes, labels, targets, progress, threads)
    # The rows are read from the file again (either way): it must be the file that was judged,
    # before and after they were copied.
    _unchanged(source)
    lines = ahead.take() if ahead is not None else passthrough.Lines(source.path, source.delimiter)
    try:
        temps = _copy_lines(con, source, lines, codes, labels, targets, progress, threads)
    finally:
        lines.close()
    if temps is None:
        temps = write_outputs(con, source, codes, labels, targets, progress, threads)
    _unchanged(source)
    return temps


def _copy_lines(con: duckdb.DuckDBPyConnection, source: Source, lines: passthrough.Lines, codes: np.ndarray,
                labels: list[str], targets: tuple[Path, Path], progress: Callable[[int], None],
                threads: int | None) -> tuple[Path, Path] | None:
    """Both files from the list's own lines, or None when they are not provably its rows."""
    number_index = source.columns.index(source.number_column)
    if not passthrough.prove(lines, con, source.rows, len(source.columns), text_sql(source, source.number_column),
                             number_index, source.delimiter):
        return None
    temps = (temp_path(targets[0]), temp_path(targets[1]))
    names = list(source.columns)
    headers = (passthrough.header(names, source.delimiter),
               passthrough.header(names + [reasons_column(source)], source.delimiter))
    for tmp in temps:
        tmp.parent.mkdir(parents=True, exist_ok=True)
    passthrough.write(lines, codes, labels, headers, temps, source.delimiter, progress, threads)
    return temps


def _unchanged(source: Source) -> None:
    if file_stamp(source.path) != source.stamp:
        raise ScrubInputError("LIST_CHANGED", f"{source.path} changed while it was being scrubbed; scrub it again")


def write_outputs(con: duckdb.DuckDBPyConnection, source: Source, codes: np.ndarray, labels: list[str],
                  targets: tuple[Path, Path], progress: Callable[[int], None], threads: int | None = None) -> tuple[Path, Path]:
    """Write allowed (code 0) and rejected rows through Arrow to temporary files; return their paths.

    The rows come from `rg_src`, or, for a plain list loaded narrow, from the file again. One
    pass over the list: each batch of rows (and its codes) is split in two by Arrow, so the ten
    million stored rows are read and decoded once, not once per file. Splitting and
    CSV encoding run on `threads` worker threads (Arrow releases the GIL); the encoded
    batches are written in list order."""
    con.register("rg_st", pa.table({"code": pa.array(codes)}))
    cols = ", ".join("s." + quote_ident(c) for c in source.columns)
    table = source.table if source.plain else "rg_src"
    reader = con.sql(f"SELECT {cols}, t.code AS {RG_CODE} FROM {table} s POSITIONAL JOIN rg_st t").to_arrow_reader(BATCH_ROWS)
    names = list(source.columns)
    reasons = pa.array([None] + labels[1:], pa.string())  # a code's reason codes, joined by `;`
    allowed_schema = pa.schema([reader.schema.field(i) for i in range(len(names))])
    rejected_schema = allowed_schema.append(pa.field(reasons_column(source), pa.string()))
    temps = (temp_path(targets[0]), temp_path(targets[1]))
    writers = (_writer(temps[0], targets[0], allowed_schema, source), _writer(temps[1], targets[1], rejected_schema, source))
    def split(batch: pa.RecordBatch) -> tuple[object, object, int]:
        code = batch.column(len(names))
        kept = pc.equal(code, 0)
        columns = batch.columns[:len(names)]
        allowed = pa.RecordBatch.from_arrays(columns, schema=allowed_schema).filter(kept)
        rejected = pa.RecordBatch.from_arrays(columns + [reasons.take(code)], schema=rejected_schema).filter(pc.invert(kept))
        return writers[0].encode(allowed), writers[1].encode(rejected), batch.num_rows

    def emit(parts: tuple[object, object, int]) -> int:
        writers[0].write(parts[0])
        writers[1].write(parts[1])
        return parts[2]

    try:
        encode_in_order(reader, split, emit, progress, threads, depth=2, name="reachguard-scrub-write")
    finally:
        reader.close()  # else DuckDB refuses the unregister below, masking the error
        for writer in writers:
            writer.close()
        con.unregister("rg_st")
    return temps


class _Writer:
    """One output file. CSV batches are encoded by `encode` (any thread, no header) and their
    bytes appended by `write` in order; Parquet batches go to the ParquetWriter as they are."""

    file: OutputFile | None

    def __init__(self, path: Path, schema: pa.Schema, options: pcsv.WriteOptions | None):
        self.schema, self.options = schema, options
        if options is None:
            self.parquet: pq.ParquetWriter | None = pq.ParquetWriter(str(path), schema)
            self.file = None
        else:
            self.parquet = None
            self.file = OutputFile(path)
            header = pa.BufferOutputStream()
            pcsv.write_csv(schema.empty_table(), header, write_options=options)
            self.file.write(header.getvalue())
            self.rows_options = pcsv.WriteOptions(include_header=False, delimiter=options.delimiter,
                                                  quoting_style=options.quoting_style)

    def encode(self, batch: pa.RecordBatch) -> object:
        if batch.schema != self.schema:
            batch = batch.cast(self.schema)
        if self.parquet is not None or not batch.num_rows:
            return batch
        sink = pa.BufferOutputStream()
        pcsv.write_csv(batch, sink, write_options=self.rows_options)
        return sink.getvalue()

    def write(self, encoded: object) -> None:
        if isinstance(encoded, pa.RecordBatch):
            if encoded.num_rows and self.parquet is not None:
                self.parquet.write_batch(encoded)
        elif self.file is not None:
            self.file.write(encoded)  # type: ignore[arg-type]

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if self.file is not None:
            self.file.close()


def _plain(schema: pa.Schema) -> pa.Schema:
    """string_view → string: pyarrow's CSV writer does not take views."""
    fields = [pa.field(f.name, pa.string() if f.type == pa.string_view() else f.type) for f in schema]
    return pa.schema(fields)


def _writer(tmp: Path, target: Path, schema: pa.Schema, source: Source) -> _Writer:
    schema = _plain(schema)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if is_parquet_path(target):
        return _Writer(tmp, schema, None)
    return _Writer(tmp, schema, pcsv.WriteOptions(include_header=True, delimiter=source.delimiter, quoting_style="needed"))


def publish(temps: tuple[Path, Path], targets: tuple[Path, Path]) -> None:
    for tmp, target in zip(temps, targets):
        os.replace(tmp, target)


def discard(temps: tuple[Path, ...]) -> None:
    for tmp in temps:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
