"""The plain-CSV fast path writes each row as the very line it came in as — the cells a CSV
reader gets from the Arrow writer's output — or steps aside for the Arrow writer."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from reachguard.scrub import output, passthrough, rows as rows_mod, source as source_mod
from reachguard.scrub.source import ScrubInputError, text_sql

LABELS = ["", "OPTED_OUT", "NO_CONSENT;ON_DNC_LIST", "DUPLICATE"]


def _codes(rows: int) -> np.ndarray:
    return np.array([(i * 5) % 4 if i % 3 else 0 for i in range(rows)], dtype=np.int32)


def _write(path: Path, folder: Path, narrow: bool, spy: list[str] | None = None, chunk: int | None = None,
           monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[bytes, bytes, source_mod.Source, list[int]]:
    """Load `path` (narrow or whole) and write both files through output.write."""
    con = duckdb.connect()
    src = source_mod.load(con, path, None, rows_mod.select, narrow=narrow)
    seen: list[int] = []
    folder.mkdir(exist_ok=True)
    temps = output.write(con, src, _codes(src.rows), LABELS, (folder / "a.csv", folder / "r.csv"), seen.append, 2)
    con.close()
    return temps[0].read_bytes(), temps[1].read_bytes(), src, seen


def _cells(data: bytes, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _input_rows(text: str, columns: int) -> list[str]:
    """The data lines DuckDB reads as rows (blank ones skipped when there are several columns)."""
    lines = text.removeprefix("\ufeff").split(_newline(text))[1:]
    if lines and lines[-1] == "":
        lines.pop()
    return [line for line in lines if line or columns == 1]


def _used_lines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of passthrough.write (the fast path taken)."""
    calls: list[int] = []
    real = passthrough.write

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(passthrough, "write", counting)
    return calls


PLAIN = {
    "spaces and empty cells": "name,phone,segment\n a b ,13800138000,\n,+86 139 0013 8001, x\n张三,13900139002,全角，逗号\n",
    "rows of empty cells": "name,phone,segment\n,,\nx,13800138000,y\n,,\n",
    "blank lines": "name,phone,segment\n\nx,13800138000,y\n\n\nz,13900139001,w\n\n",
    "no final newline": "name,phone,segment\nx,13800138000,y\nz,13900139001,w",
    "header only": "name,phone,segment\n",
    "bom and spaced names": "\ufeff name , phone ,segment\nx,13800138000,y\n",
    "last column empty": "name,phone,segment\nx,13800138000,\ny,13900139001,\n",
    "one column": "phone\n13800138000\n+8613900139001\nnot a number\n",
    "semicolons": "name;phone;segment\nx;13800138000;y\nz;13900139001;w,v\n",
    "tabs": "name\tphone\tsegment\nx\t13800138000\ty z\nz\t13900139001\tw\n",
    "pipes": "name|phone|segment\nx|13800138000|y\nz|13900139001|w;v\n",
    "crlf (Excel)": "name,phone,segment\r\nx,13800138000,y\r\n\r\nz,13900139001,\r\nw,13700137000,v\r\n",
    "crlf without a final line end": "name;phone\r\nx;13800138000\r\nz;13900139001\r\nw;13700137000",
}


@pytest.mark.parametrize("chunk", [1, 40, 1 << 20])  # CHUNK_BYTES: one row, a few, all
@pytest.mark.parametrize("case", sorted(PLAIN))
def test_plain_lists_are_copied_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, chunk: int) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(PLAIN[case].encode("utf-8"))
    whole_allowed, whole_rejected, whole, _ = _write(path, tmp_path / "whole", narrow=False)
    assert not whole.plain
    monkeypatch.setattr(passthrough, "CHUNK_BYTES", chunk)
    calls = _used_lines(monkeypatch)
    allowed, rejected, narrow, seen = _write(path, tmp_path / "narrow", narrow=True)
    assert narrow.plain and calls == [1]
    delim = narrow.delimiter
    assert _cells(allowed, delim) == _cells(whole_allowed, delim)
    assert _cells(rejected, delim) == _cells(whole_rejected, delim)
    assert narrow.rows == whole.rows
    # the rows are the input's own lines, in order; the header has the (stripped) column names
    rows = _input_rows(PLAIN[case], len(narrow.columns))
    codes = _codes(len(rows))
    newline = _newline(PLAIN[case])
    assert allowed.decode().split(newline) == [delim.join(narrow.columns)] + [r for r, c in zip(rows, codes) if c == 0] + [""]
    assert rejected.decode().split(newline)[1:] == [r + delim + passthrough.cell(LABELS[c], delim)
                                                     for r, c in zip(rows, codes) if c] + [""]
    if narrow.rows:
        assert seen == sorted(seen) and seen[-1] == narrow.rows
    # a narrow load keeps only what the scrub reads
    con = duckdb.connect()
    source_mod.load(con, path, None, rows_mod.select, narrow=True)
    loaded = [row[0] for row in con.execute("DESCRIBE rg_src").fetchall() if not row[0].startswith(source_mod.RESERVED_PREFIX)]
    assert loaded == [narrow.number_column]


def test_a_reason_cell_is_quoted_when_it_holds_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("name;phone\nx;13800138000\ny;13800138001\nz;13800138002\n", encoding="utf-8")
    _, rejected, _, _ = _write(path, tmp_path / "out", narrow=True)
    assert rejected.decode().splitlines() == ["name;phone;reasons", 'y;13800138001;OPTED_OUT', 'z;13800138002;"NO_CONSENT;ON_DNC_LIST"']


FALLBACK = {
    "quotes": ('name,phone\n"a, b",13800138000\nc,13900139001\n', False),
    "a stray carriage return": ("name,phone\r\na,13800138000\r\nc,13900139001\r\n\r", True),
    "extra trailing delimiters": ("name,phone,segment\na,13800138000,x,,\nc,13900139001,y\n", True),
    "one column with a blank line": ("phone\n13800138000\n\n13900139001\n", True),
}


@pytest.mark.parametrize("case", sorted(FALLBACK))
def test_files_that_break_the_premise_go_through_arrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    text, plain = FALLBACK[case]
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode("utf-8"))
    whole_allowed, whole_rejected, _, _ = _write(path, tmp_path / "whole", narrow=False)
    calls = _used_lines(monkeypatch)
    allowed, rejected, narrow, _ = _write(path, tmp_path / "narrow", narrow=True)
    assert narrow.plain is plain and calls == []
    assert (allowed, rejected) == (whole_allowed, whole_rejected)  # the same writer, the same rows
    if case == "extra trailing delimiters":  # DuckDB dropped them; so does the output
        assert allowed.decode().splitlines()[1] == '"a","13800138000","x"'


def test_invalid_utf8_in_an_unread_column_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes("phone,name\n13800138000,张三\n".encode("gb18030"))
    with pytest.raises(ScrubInputError) as caught:
        source_mod.load(duckdb.connect(), path, None, rows_mod.select, narrow=True)
    assert caught.value.code == "INVALID_UTF8"


def test_lines_that_disagree_with_the_loaded_rows_are_not_used(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("name,phone\na,13800138000\nb,13900139001\n", encoding="utf-8")
    con = duckdb.connect()
    src = source_mod.load(con, path, None, rows_mod.select, narrow=True)
    number = text_sql(src, "phone")
    lines = passthrough.Lines(path, ",")
    assert passthrough.prove(lines, con, src.rows, 2, number, 1, ",")
    assert not passthrough.prove(lines, con, src.rows + 1, 2, number, 1, ",")  # count
    assert not passthrough.prove(lines, con, src.rows, 3, number, 1, ",")  # delimiters per line
    con.execute("UPDATE rg_src SET phone = '13700137000' WHERE rowid = 1")
    assert not passthrough.prove(lines, con, src.rows, 2, number, 1, ",")  # a sampled number cell
    lines.close()


def test_lines_scanned_ahead_are_the_ones_written(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"name,phone\r\na,13800138000\r\nb,13900139001\r\n")
    con = duckdb.connect()
    src = source_mod.load(con, path, None, rows_mod.select, narrow=True)
    ahead = passthrough.LinesAhead(path, src.delimiter)
    temps = output.write(con, src, np.array([0, 1], np.int32), LABELS, (tmp_path / "a.csv", tmp_path / "r.csv"),
                         lambda n: None, 2, ahead=ahead)
    ahead.close()  # after take(): nothing left to close
    assert temps[0].read_bytes() == b"name,phone\r\na,13800138000\r\n"
    assert temps[1].read_bytes() == b"name,phone,reasons\r\nb,13900139001,OPTED_OUT\r\n"
    gone = passthrough.LinesAhead(tmp_path / "missing.csv", ",")
    with pytest.raises(FileNotFoundError):
        gone.take()
    gone.close()


def test_a_failure_mid_write_propagates_and_releases_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passthrough, "CHUNK_BYTES", 20)  # about two rows
    path = tmp_path / "list.csv"
    path.write_text("name,phone\n" + "".join(f"n{i},138{i:08d}\n" for i in range(20)), encoding="utf-8")
    con = duckdb.connect()
    src = source_mod.load(con, path, None, rows_mod.select, narrow=True)

    def fail(done: int) -> None:
        if done >= 6:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        output.write(con, src, _codes(src.rows), LABELS, (tmp_path / "a.csv", tmp_path / "r.csv"), fail, 2)
    path.unlink()  # the map is closed (or at least not pinning the name)
    output.discard((output.temp_path(tmp_path / "a.csv"), output.temp_path(tmp_path / "r.csv")))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_zero_copy_slice_gives_the_values_bytes() -> None:
    array = pa.array(["\nab", "\nc", "\n", "\ndef"], pa.large_string()).slice(1, 2)
    assert bytes(passthrough._bytes(array)) == b"\nc\n"
    assert bytes(passthrough._bytes(array.slice(0, 0))) == b""


@pytest.mark.parametrize("edit", ["append", "rewrite same size", "delete"])
def test_a_list_changed_during_the_scrub_is_refused(tmp_path: Path, edit: str) -> None:
    from datetime import datetime

    from reachguard.scrub import pipeline
    from reachguard.store import SQLiteStore

    path = tmp_path / "list.csv"
    text = "name,phone\n" + "".join(f"n{i},138{i:08d}\n" for i in range(50))
    path.write_text(text, encoding="utf-8")
    store = SQLiteStore(str(tmp_path / "rg.db"))

    def meddle(stage: str, fraction: float) -> None:
        if stage == "judge" and path.exists() and path.read_text(encoding="utf-8") == text:
            if edit == "append":
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write("late,13900000000\n")
            elif edit == "rewrite same size":
                path.write_text(text.replace("n7,", "x7,"), encoding="utf-8")
            else:
                path.unlink()

    with pytest.raises(ScrubInputError) as caught:
        pipeline.run_scrub(path, store=store, org="acme", purpose="service", channel="sms",
                           at=datetime.fromisoformat("2026-11-23T10:00:00+08:00"), out=tmp_path / "a.csv", progress=meddle)
    store.close()
    assert caught.value.code == "LIST_CHANGED"
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "a.rejected.csv").exists()
    assert not [p for p in tmp_path.iterdir() if "rg-tmp" in p.name]


def test_a_file_name_duckdb_would_read_as_a_pattern_reads_exactly_that_file(tmp_path: Path) -> None:
    """DuckDB reads `list[1].csv` as a glob (it would read `list1.csv`): the scrub must judge and
    copy the very file it was given, or refuse it."""
    named = tmp_path / "list[1].csv"
    named.write_text("name,phone\nmine,13800138000\n", encoding="utf-8")
    (tmp_path / "list1.csv").write_text("name,phone\nother,13900139000\n", encoding="utf-8")
    (tmp_path / "a*b?.csv").write_text("name,phone\nstar,13700137000\n", encoding="utf-8")
    (tmp_path / "aXbY.csv").write_text("name,phone\nx,13600136000\n", encoding="utf-8")
    for path, expected in ((named, "13800138000"), (tmp_path / "a*b?.csv", "13700137000")):
        for narrow in (True, False):
            con = duckdb.connect()
            source_mod.load(con, path, None, rows_mod.select, narrow=narrow)
            assert con.execute("SELECT phone FROM rg_src").fetchall() == [(expected,)]


def test_a_column_named_rowid_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("RowID,phone\n1,13800138000\n", encoding="utf-8")
    with pytest.raises(ScrubInputError) as caught:
        source_mod.load(duckdb.connect(), path, None, rows_mod.select, narrow=True)
    assert caught.value.code == "BAD_HEADER" and "RowID" in caught.value.message


@pytest.mark.parametrize("writer", ["lines", "arrow"])
def test_an_edit_while_the_rows_are_copied_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    path = tmp_path / "list.csv"
    text = "name,phone,seg\n" + "".join(f"n{i},138{i:08d},s\n" for i in range(30))
    if writer == "arrow":
        text = text.replace("n7,", "n7,", 1).replace(",s\n", ",s,\n", 1)  # an extra trailing delimiter: Arrow's path
    path.write_text(text, encoding="utf-8")
    con = duckdb.connect()
    src = source_mod.load(con, path, None, rows_mod.select, narrow=True)
    assert src.plain
    name = "write" if writer == "lines" else "write_outputs"
    owner = passthrough if writer == "lines" else output
    real = getattr(owner, name)

    def edit_after(*args, **kwargs):  # type: ignore[no-untyped-def]
        done = real(*args, **kwargs)
        path.write_text(text.replace("n3,13800000003", "n3,13700000003"), encoding="utf-8")  # same size
        return done

    monkeypatch.setattr(owner, name, edit_after)
    with pytest.raises(ScrubInputError) as caught:
        output.write(con, src, _codes(src.rows), LABELS, (tmp_path / "a.csv", tmp_path / "r.csv"), lambda n: None, 2)
    assert caught.value.code == "LIST_CHANGED"


def test_blank_lines_at_the_end_keep_the_lines_zero_copy(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("name,phone\na,13800138000\nb,13900139001\n\n\n", encoding="utf-8")
    lines = passthrough.Lines(path, ",")
    assert len(lines) == 2 and lines.rows.buffers()[2].size == path.stat().st_size  # the map itself, not a copy
    lines.close()
    path.write_text("name,phone\na,13800138000\n\nb,13900139001\n", encoding="utf-8")
    lines = passthrough.Lines(path, ",")
    assert len(lines) == 2 and [lines.cell(i, 1, ",") for i in range(2)] == ["13800138000", "13900139001"]
    lines.close()
