"""Reading a campaign list (CSV or Parquet) into DuckDB, without guessing behind the user's back.

Why not DuckDB's CSV sniffer: on a malformed file it can pick a dialect that silently skips
rows (seen: a row with one field too many made it skip the header and every row). A scrub that
loses rows without saying so is worse than one that stops, so the dialect is pinned here: the
header line is read in Python (UTF-8, optional BOM), the delimiter is the candidate that splits
it into the most fields, and DuckDB then reads every cell as text in strict mode, so a bad row
is an error with its line number and a bad byte is an error that says "not UTF-8".
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from reachguard.scrub.numbers_sql import sql_quote
from reachguard.scrub.passthrough import is_plain

NUMBER_COLUMNS = ("phone", "mobile", "to", "number", "手机号", "电话")
SUBJECT_COLUMNS = ("subject",)
RELATION_COLUMNS = ("relation",)
_DELIMITERS = (",", "\t", ";", "|")
_HEADER_LIMIT = 1 << 20
PARQUET_MAGIC = b"PAR1"
RESERVED_PREFIX = "__reachguard_"  # columns the scrub adds to rg_src (rows.py); never in a list
Select = Callable[["Source", str], str]
"""(source, table expression) -> the SELECT that fills rg_src: derived columns are computed as
the list is read, in the same parallel pass (rows.py)."""


def _plain_select(source: "Source", table: str) -> str:
    return f"SELECT * FROM {table}"


class ScrubInputError(ValueError):
    """The list cannot be scrubbed as given; `code` is stable, the message says what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Source:
    """The input as loaded into table `rg_src` (`rowid` = row): every input column in order,
    unless `plain` (then only the number, subject and relation columns; see passthrough.py)."""

    path: Path
    kind: str  # "csv" | "parquet"
    columns: list[str]
    number_column: str
    subject_column: str | None
    relation_column: str | None
    rows: int = 0
    delimiter: str = ","
    types: dict[str, str] = field(default_factory=dict)
    table: str = ""  # the table expression the list is read with (read_csv / read_parquet)
    plain: bool = False  # a quote-free UTF-8 CSV loaded narrow: its lines are its rows (passthrough.py)
    stamp: tuple[int, int, int] | None = None  # a plain list's (size, mtime_ns, inode) before it was read


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def find_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str) -> str | None:
    """The column named `wanted` (exact, then ignoring case and spaces), else the first candidate."""
    folded = {c.strip().casefold(): c for c in reversed(columns)}
    if wanted is not None:
        if wanted in columns:
            return wanted
        hit = folded.get(wanted.strip().casefold())
        if hit is None:
            raise ScrubInputError(
                "MISSING_COLUMN", f"no column named {wanted!r} for the {what}; the columns are: {', '.join(columns) or '(none)'}"
            )
        return hit
    for name in candidates:
        if name.casefold() in folded:
            return folded[name.casefold()]
    return None


def duckdb_path(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """The path as DuckDB must be given it to read exactly this one file.

    DuckDB reads a path as a glob pattern: `list[1].csv` would read `list1.csv`, `a*.csv` every
    match, so the scrub would judge another file's rows (and, copying the named file's lines,
    pair them with the wrong verdicts). Each `*`, `?`, `[` and `]` becomes a one-character class,
    and DuckDB's own glob must then find exactly this file."""
    pattern = re.sub(r"([\[\]*?])", r"[\1]", str(path))
    found = [row[0] for row in con.execute("SELECT file FROM glob(?)", [pattern]).fetchall()]
    if found != [str(path)]:
        raise ScrubInputError("INVALID_OPTION", f"{path}: DuckDB cannot read this file by its name alone; rename it "
                              "without `*`, `?`, `[` or `]`")
    return pattern


def file_stamp(path: Path) -> tuple[int, int, int]:
    """What changes when the file is written to: size, modification time, inode."""
    try:
        info = path.stat()
    except OSError:
        return -1, -1, -1  # gone: never equal to a stamp taken while it was there
    return info.st_size, info.st_mtime_ns, info.st_ino


def is_parquet(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == PARQUET_MAGIC


def load(con: duckdb.DuckDBPyConnection, path: Path, column: str | None = None, select: Select = _plain_select,
         narrow: bool = False) -> Source:
    """Load the list into `rg_src`; raise ScrubInputError for anything that is not a usable list.

    `select` may add columns (named RESERVED_PREFIX…) after the input's own; `Source.columns`
    lists only the input's. With `narrow` (the caller writes CSV), a plain CSV is marked
    `plain` so that `select` may load only the columns the scrub reads."""
    if not path.is_file():
        raise ScrubInputError("NOT_FOUND", f"cannot read {path}: no such file")
    if path.stat().st_size == 0:
        raise ScrubInputError("EMPTY_FILE", f"{path} is empty: expected a header line naming the columns")
    if is_parquet(path):
        source = _load_parquet(con, path, column, select)
    else:
        stamp = file_stamp(path)  # before anything reads it: an edit from here on shows
        source = _load_csv(con, path, column, select, narrow and is_plain(path))
        source.stamp = stamp if source.plain else None
    source.rows = con.execute("SELECT count(*) FROM rg_src").fetchall()[0][0]
    return source


def _columns_or_fail(path: Path, columns: list[str], column: str | None) -> tuple[str, str | None, str | None]:
    for name in columns:
        if name.casefold().startswith(RESERVED_PREFIX):
            raise ScrubInputError("BAD_HEADER", f"{path}: column names starting with {RESERVED_PREFIX!r} are reserved: {name!r}")
        if name.casefold() == "rowid":  # would shadow DuckDB's row number, which pairs rows with verdicts
            raise ScrubInputError("BAD_HEADER", f"{path}: a column may not be named {name!r} (DuckDB's row number); rename it")
    number = find_column(columns, column, NUMBER_COLUMNS, "phone number")
    if number is None:
        raise ScrubInputError(
            "MISSING_COLUMN",
            f"{path}: no phone-number column; name it one of {', '.join(NUMBER_COLUMNS)} or pass --column NAME "
            f"(the columns are: {', '.join(columns)})",
        )
    subject = find_column(columns, None, SUBJECT_COLUMNS, "subject")
    relation = find_column(columns, None, RELATION_COLUMNS, "relation")
    return number, subject, relation


def read_header(path: Path) -> tuple[list[str], str]:
    """Column names and delimiter from the first line (UTF-8, BOM allowed)."""
    with open(path, "rb") as handle:
        head = handle.read(_HEADER_LIMIT + 1)
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if len(line) > _HEADER_LIMIT:
        raise ScrubInputError("BAD_HEADER", f"{path}: the header line is over {_HEADER_LIMIT} bytes")
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScrubInputError(
            "INVALID_UTF8",
            f"{path}: the header line is not valid UTF-8 (byte {exc.start}); save the file as UTF-8 "
            "(e.g. `iconv -f GB18030 -t UTF-8 in.csv > out.csv`)",
        ) from exc
    if not text.strip():
        raise ScrubInputError("EMPTY_FILE", f"{path}: the first line is blank; expected a header line naming the columns")
    best, best_delim = _split_header(path, text)
    names = [name.strip() for name in best]
    if any(not name for name in names):
        raise ScrubInputError("BAD_HEADER", f"{path}: the header has an empty column name: {text[:200]!r}")
    if any("\x00" in name for name in names):  # Arrow would cut the name there, the line copy would not
        raise ScrubInputError("BAD_HEADER", f"{path}: a column name holds a NUL character: {text[:200]!r}")
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise ScrubInputError("BAD_HEADER", f"{path}: the column {name!r} appears twice in the header")
        seen.add(name.casefold())
    return names, best_delim


def _split_header(path: Path, text: str) -> tuple[list[str], str]:
    """The header's fields under the delimiter that yields the most of them.

    The csv module's field limit is process-wide (128 KiB by default); it is raised here, where
    it is needed, so that a header up to _HEADER_LIMIT parses whatever else was imported."""
    if csv.field_size_limit() < _HEADER_LIMIT:
        csv.field_size_limit(_HEADER_LIMIT)
    best: list[str] = []
    best_delim = ","
    for delim in _DELIMITERS:
        try:
            fields = next(csv.reader(io.StringIO(text), delimiter=delim, quotechar='"', doublequote=True))
        except csv.Error as exc:
            raise ScrubInputError("MALFORMED_CSV", f"{path}: the header line is not valid CSV: {exc}") from exc
        if len(fields) > len(best):
            best, best_delim = fields, delim
    return best, best_delim


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, column: str | None, select: Select, plain: bool) -> Source:
    names, delim = read_header(path)
    number, subject, relation = _columns_or_fail(path, names, column)
    source = Source(path, "csv", names, number, subject, relation, delimiter=delim, types={n: "VARCHAR" for n in names},
                    plain=plain)
    spec = "{" + ", ".join(f"{sql_quote(n)}: 'VARCHAR'" for n in names) + "}"
    table = (
        f"read_csv({sql_quote(duckdb_path(con, path))}, header = true, "
        f"auto_detect = false, delim = {sql_quote(delim)}, quote = '\"', escape = '\"', strict_mode = true, "
        f"null_padding = false, columns = {spec})"
    )
    source.table = table
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE rg_src AS {select(source, table)}")
    except duckdb.Error as exc:
        raise _csv_error(path, exc) from exc
    return source


def _csv_error(path: Path, exc: duckdb.Error) -> ScrubInputError:
    text = str(exc)
    where = ""
    for line in text.splitlines():
        if line.startswith("CSV Error on Line:"):
            where = " (line " + line.split(":", 1)[1].strip() + ")"
            break
    if "Invalid unicode" in text or "not utf-8" in text.lower():
        return ScrubInputError(
            "INVALID_UTF8",
            f"{path}: not valid UTF-8{where}; save the file as UTF-8 (e.g. `iconv -f GB18030 -t UTF-8 in.csv > out.csv`)",
        )
    reason = next((ln.strip() for ln in text.splitlines() if ln.startswith(("Expected Number of Columns", "Value with unterminated"))), "")
    return ScrubInputError("MALFORMED_CSV", f"{path}: malformed CSV{where}: {reason or text.splitlines()[0]}")


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, column: str | None, select: Select) -> Source:
    try:
        table = f"read_parquet({sql_quote(duckdb_path(con, path))})"
        described = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
        names = [row[0] for row in described]
        number, subject, relation = _columns_or_fail(path, names, column)
        source = Source(path, "parquet", names, number, subject, relation, types={row[0]: row[1] for row in described},
                        table=table)
        con.execute(f"CREATE OR REPLACE TEMP TABLE rg_src AS {select(source, table)}")
    except duckdb.Error as exc:
        raise ScrubInputError("MALFORMED_PARQUET", f"{path}: cannot read the Parquet file: {str(exc).splitlines()[0]}") from exc
    return source


def text_sql(source: Source, name: str) -> str:
    """The column as text the way a person wrote it (whole floats lose their `.0`)."""
    ident = quote_ident(name)
    kind = source.types.get(name, "VARCHAR").upper()
    if kind == "VARCHAR":
        return ident
    if kind in ("FLOAT", "DOUBLE", "REAL") or kind.startswith("DECIMAL"):
        return (f"CASE WHEN {ident} = floor({ident}) AND abs({ident}) < 1e18 THEN CAST(CAST({ident} AS HUGEINT) AS VARCHAR) "
                f"ELSE CAST({ident} AS VARCHAR) END")
    return f"CAST({ident} AS VARCHAR)"
