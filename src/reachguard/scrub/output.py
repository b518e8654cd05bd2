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

from reachguard.scrub.numbers_sql import sql_quote
from reachguard.scrub.source import Source, quote_ident

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


def write_outputs(con: duckdb.DuckDBPyConnection, source: Source, codes: np.ndarray, labels: list[str],
                  targets: tuple[Path, Path], progress: Callable[[int], None]) -> tuple[Path, Path]:
    """Write allowed (code 0) and rejected rows to temporary files; return their paths.

    One pass over the list: each batch of rows (and its codes) is split in two by Arrow, so
    the ten million stored rows are read and decoded once, not once per file."""
    con.register("rg_st", pa.table({"code": pa.array(codes)}))
    cols = ", ".join("s." + quote_ident(c) for c in source.columns)
    reader = con.sql(f"SELECT {cols}, t.code AS {RG_CODE} FROM rg_src s POSITIONAL JOIN rg_st t").to_arrow_reader(BATCH_ROWS)
    names = list(source.columns)
    reasons = pa.array([None] + labels[1:], pa.string())  # a code's reason codes, joined by `;`
    allowed_schema = pa.schema([reader.schema.field(i) for i in range(len(names))])
    rejected_schema = allowed_schema.append(pa.field(reasons_column(source), pa.string()))
    temps = (temp_path(targets[0]), temp_path(targets[1]))
    writers = (_writer(temps[0], targets[0], allowed_schema, source), _writer(temps[1], targets[1], rejected_schema, source))
    done = 0
    try:
        for batch in reader:
            code = batch.column(len(names))
            kept = pc.equal(code, 0)
            columns = batch.columns[:len(names)]
            allowed = pa.RecordBatch.from_arrays(columns, schema=allowed_schema).filter(kept)
            rejected = pa.RecordBatch.from_arrays(columns + [reasons.take(code)], schema=rejected_schema).filter(pc.invert(kept))
            if allowed.num_rows:
                writers[0].write(allowed)
            if rejected.num_rows:
                writers[1].write(rejected)
            done += batch.num_rows
            progress(done)
    finally:
        for writer in writers:
            writer.close()
        con.unregister("rg_st")
    return temps


class _Writer:
    def __init__(self, inner: pcsv.CSVWriter | pq.ParquetWriter, schema: pa.Schema):
        self.inner, self.schema = inner, schema

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.schema != self.schema:
            batch = batch.cast(self.schema)
        self.inner.write_batch(batch)

    def close(self) -> None:
        self.inner.close()


def _plain(schema: pa.Schema) -> pa.Schema:
    """string_view → string: pyarrow's CSV writer does not take views."""
    fields = [pa.field(f.name, pa.string() if f.type == pa.string_view() else f.type) for f in schema]
    return pa.schema(fields)


def _writer(tmp: Path, target: Path, schema: pa.Schema, source: Source) -> _Writer:
    schema = _plain(schema)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if is_parquet_path(target):
        return _Writer(pq.ParquetWriter(str(tmp), schema), schema)
    options = pcsv.WriteOptions(include_header=True, delimiter=source.delimiter, quoting_style="needed")
    return _Writer(pcsv.CSVWriter(str(tmp), schema, write_options=options), schema)


def publish(temps: tuple[Path, Path], targets: tuple[Path, Path]) -> None:
    for tmp, target in zip(temps, targets):
        os.replace(tmp, target)


def discard(temps: tuple[Path, ...]) -> None:
    for tmp in temps:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
