"""write_outputs: both files hold exactly the right rows, in list order, whatever the batching."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from reachguard.scrub import output
from reachguard.scrub.source import Source

TRICKY = ["plain", "with,comma", 'with "quotes"', "line\nbreak", "", None, "中文，全角", "semi;colon", " padded ", "tab\there"]


def _load(con: duckdb.DuckDBPyConnection, rows: int) -> tuple[Source, list[list[str | None]]]:
    values = [[f"+86138{i:08d}", TRICKY[i % len(TRICKY)], TRICKY[(i * 7) % len(TRICKY)]] for i in range(rows)]
    table = pa.table({name: pa.array([row[j] for row in values], pa.string()) for j, name in enumerate(("phone", "note", "reasons"))})
    con.register("t", table)
    con.execute("CREATE TEMP TABLE rg_src AS SELECT * FROM t")
    con.unregister("t")
    return Source(Path("list.csv"), "csv", ["phone", "note", "reasons"], "phone", None, None, rows), values


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("batch_rows", [7, 1000])
def test_csv_outputs_match_a_single_writer_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int,
                                                          batch_rows: int) -> None:
    monkeypatch.setattr(output, "BATCH_ROWS", batch_rows)
    con = duckdb.connect()
    source, values = _load(con, 503)
    codes = np.array([(i * 5) % 4 if i % 3 else 0 for i in range(len(values))], dtype=np.int32)
    labels = ["", "OPTED_OUT", "NO_CONSENT;ON_DNC_LIST", "DUPLICATE"]
    seen: list[int] = []
    temps = output.write_outputs(con, source, codes, labels, (tmp_path / "a.csv", tmp_path / "r.csv"), seen.append, threads)

    # the reference: one CSVWriter over each whole filtered table (what the scrub wrote before)
    allowed = [row for row, code in zip(values, codes) if code == 0]
    rejected = [row + [labels[code]] for row, code in zip(values, codes) if code != 0]
    for path, rows, names in ((temps[0], allowed, ["phone", "note", "reasons"]),
                              (temps[1], rejected, ["phone", "note", "reasons", "rg_reasons"])):
        table = pa.table({n: pa.array([r[j] for r in rows], pa.string()) for j, n in enumerate(names)})
        ref = tmp_path / f"ref-{path.name}"
        with pcsv.CSVWriter(str(ref), table.schema, write_options=pcsv.WriteOptions(quoting_style="needed")) as writer:
            writer.write_table(table)
        assert path.read_bytes() == ref.read_bytes()
        with open(path, newline="", encoding="utf-8") as handle:
            parsed = list(csv.reader(handle))
        assert parsed[0] == names
        assert parsed[1:] == [[v if v is not None else "" for v in row] for row in rows]
    assert seen == sorted(seen) and seen[-1] == len(values)


def test_parquet_outputs_keep_order_and_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "BATCH_ROWS", 11)
    con = duckdb.connect()
    source, values = _load(con, 200)
    codes = np.array([0 if i % 4 == 1 else 1 for i in range(len(values))], dtype=np.int32)
    temps = output.write_outputs(con, source, codes, ["", "OPTED_OUT"], (tmp_path / "a.parquet", tmp_path / "r.parquet"),
                                 lambda n: None, 2)
    allowed = pq.read_table(temps[0]).to_pylist()
    rejected = pq.read_table(temps[1]).to_pylist()
    assert [r["phone"] for r in allowed] == [v[0] for v, c in zip(values, codes) if c == 0]
    assert [r["phone"] for r in rejected] == [v[0] for v, c in zip(values, codes) if c != 0]
    assert {r["rg_reasons"] for r in rejected} == {"OPTED_OUT"}
    assert [r["note"] for r in allowed] == [v[1] for v, c in zip(values, codes) if c == 0]


def test_a_failure_mid_write_stops_early_and_closes_both_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A progress callback (or a batch) that raises ends the write: the error reaches the caller,
    batches not yet started are dropped, both files are closed."""
    monkeypatch.setattr(output, "BATCH_ROWS", 5)
    con = duckdb.connect()
    source, values = _load(con, 400)
    encoded: list[int] = []
    real = output._Writer.encode

    def counting(self: output._Writer, batch: pa.RecordBatch) -> object:
        encoded.append(batch.num_rows)
        return real(self, batch)

    monkeypatch.setattr(output._Writer, "encode", counting)

    def fail(done: int) -> None:
        if done >= 20:
            raise RuntimeError("stop")

    codes = np.zeros(len(values), dtype=np.int32)
    with pytest.raises(RuntimeError, match="stop"):
        output.write_outputs(con, source, codes, [""], (tmp_path / "a.csv", tmp_path / "r.csv"), fail, 2)
    assert len(encoded) < 2 * 80 / 2  # far fewer than the 80 batches (x2 files) of the whole list
    for name in ("a.csv", "r.csv"):
        temp = output.temp_path(tmp_path / name)
        temp.unlink()  # closed: removable, and holds only whole batches
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT count(*) FROM rg_st")  # unregistered, and the connection still usable
