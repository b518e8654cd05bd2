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
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from reachguard.scrub.numbers_sql import sql_quote
from reachguard.scrub.source import Source, quote_ident

BATCH_ROWS = 200_000


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
    """Write allowed (code 0) and rejected rows to temporary files; return their paths."""
    con.register("rg_st", pa.table({"code": pa.array(codes)}))
    cols = ", ".join("s." + quote_ident(c) for c in source.columns)
    cases = " ".join(f"WHEN {i} THEN {sql_quote(label)}" for i, label in enumerate(labels) if i)
    reasons = f"CASE t.code {cases} END" if cases else "NULL"
    queries = (
        f"SELECT {cols} FROM rg_src s POSITIONAL JOIN rg_st t WHERE t.code = 0",
        f"SELECT {cols}, {reasons} AS {quote_ident(reasons_column(source))} FROM rg_src s POSITIONAL JOIN rg_st t WHERE t.code <> 0",
    )
    temps = []
    done = 0
    for query, target in zip(queries, targets):
        tmp = temp_path(target)
        temps.append(tmp)
        reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
        writer = _writer(tmp, target, reader.schema, source)
        try:
            for batch in reader:
                writer.write(batch)
                done += batch.num_rows
                progress(done)
        finally:
            writer.close()
    con.unregister("rg_st")
    return temps[0], temps[1]


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
