"""`reachguard scrub` end to end (cli/scrub.py): columns, formats, --reserve, bad inputs."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from reachguard.cli import app
from reachguard.store import SQLiteStore
from worldkit import World

runner = CliRunner()
AT = "2026-11-23T10:00:00+08:00"
OK, NO_CONSENT = "+8613800138000", "+8613800138001"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "reachguard.db"
    w = World(store=SQLiteStore(str(path)))
    w.consent(to=OK)
    w.consent(to="+8613800138002")
    w.gateway.store.close()
    return path


def scrub(db: Path, source: Path, *extra: str) -> object:
    args = ["scrub", str(source), "--db", str(db), "--org", "acme", "--purpose", "marketing", "--channel", "sms",
            "--at", AT, "--no-progress"]
    if "--out" not in extra:
        args += ["--out", str(source.with_name("allowed.csv"))]
    return runner.invoke(app, args + list(extra))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_chinese_column_name_all_columns_kept_and_default_rejected_file(db: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "list.csv", "客户,手机号,备注\n张三,138 0013 8000,\"a, b\"\n李四,13800138001,x\n王五,13800138000,dup\n赵六,not a number,y\n")
    result = scrub(db, source)
    assert result.exit_code == 0, result.output
    assert rows(tmp_path / "allowed.csv") == [{"客户": "张三", "手机号": "138 0013 8000", "备注": "a, b"}]
    rejected = rows(tmp_path / "allowed.rejected.csv")
    assert [(r["客户"], r["reasons"]) for r in rejected] == [("李四", "NO_CONSENT"), ("王五", "DUPLICATE"), ("赵六", "INVALID_NUMBER")]
    for word in ("NO_CONSENT", "INVALID_NUMBER", "DUPLICATE", "allowed"):
        assert word in result.output


def test_column_option_picks_the_column_and_rejected_option_names_the_file(db: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "list.csv", "id,phone,cell\n1,13800138001,13800138000\n")
    result = scrub(db, source, "--column", "cell", "--rejected", str(tmp_path / "no.csv"))
    assert result.exit_code == 0, result.output
    assert rows(tmp_path / "allowed.csv") == [{"id": "1", "phone": "13800138001", "cell": "13800138000"}]
    assert rows(tmp_path / "no.csv") == []


def test_parquet_in_and_out(db: Path, tmp_path: Path) -> None:
    source = tmp_path / "list.parquet"
    pq.write_table(pa.table({"mobile": [13800138000, 13800138001, None], "score": [0.5, 0.7, 0.1]}), source)
    result = scrub(db, source, "--out", str(tmp_path / "ok.parquet"))
    assert result.exit_code == 0, result.output
    allowed = pq.read_table(tmp_path / "ok.parquet").to_pylist()
    assert allowed == [{"mobile": 13800138000, "score": 0.5}]  # the input's types are kept
    rejected = pq.read_table(tmp_path / "ok.rejected.parquet").to_pylist()
    assert [r["reasons"] for r in rejected] == ["NO_CONSENT", "INVALID_NUMBER"]


def test_reserve_counts_the_allowed_rows_as_contacts(db: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "list.csv", "phone\n13800138000\n13800138002\n")
    assert scrub(db, source).exit_code == 0
    assert len(rows(tmp_path / "allowed.csv")) == 2
    result = scrub(db, source, "--reserve")
    assert result.exit_code == 0, result.output
    assert len(rows(tmp_path / "allowed.csv")) == 2
    again = scrub(db, source)  # marketing allows one contact a day
    assert again.exit_code == 0
    assert rows(tmp_path / "allowed.csv") == []
    assert {r["reasons"] for r in rows(tmp_path / "allowed.rejected.csv")} == {"FREQUENCY_CAP"}


@pytest.mark.parametrize("content,encoding,code", [
    ("name,email\nx,y\n", "utf-8", "MISSING_COLUMN"),
    ("", "utf-8", "EMPTY_FILE"),
    ("phone,name\n13800138000,张三\n", "gb18030", "INVALID_UTF8"),
    ("电话,name\n13800138000,x\n", "gb18030", "INVALID_UTF8"),
    ("phone,name\n13800138000,x,extra\n", "utf-8", "MALFORMED_CSV"),
    ("phone,phone\n1,2\n", "utf-8", "BAD_HEADER"),
    ("phone,na\x00me\n13800138000,x\n", "utf-8", "BAD_HEADER"),
])
def test_bad_lists_fail_clearly_and_write_nothing(db: Path, tmp_path: Path, content: str, encoding: str, code: str) -> None:
    source = write(tmp_path / "list.csv", content, encoding)
    before = db.read_bytes()
    result = scrub(db, source)
    assert result.exit_code == 2
    assert code in result.output
    assert not (tmp_path / "allowed.csv").exists() and not (tmp_path / "allowed.rejected.csv").exists()
    assert db.read_bytes() == before


@pytest.fixture
def default_csv_field_limit() -> object:
    """The csv module's stock 128 KiB field limit, whatever an earlier import (the API's) set it to."""
    old = csv.field_size_limit(128 * 1024)
    yield
    csv.field_size_limit(old)


def test_header_over_the_csv_modules_field_limit_is_read(db: Path, tmp_path: Path, default_csv_field_limit: object) -> None:
    long_name = "x" * 140_000
    source = write(tmp_path / "list.csv", f"phone,{long_name}\n13800138000,a\n")
    result = scrub(db, source)
    assert result.exit_code == 0, result.output
    assert rows(tmp_path / "allowed.csv") == [{"phone": "13800138000", long_name: "a"}]


def test_header_over_one_mib_is_refused(db: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "list.csv", "phone," + "x" * (1 << 20) + "\n13800138000,a\n")
    result = scrub(db, source)
    assert result.exit_code == 2 and "BAD_HEADER" in result.output, result.output
    assert not (tmp_path / "allowed.csv").exists()


def test_missing_named_column(db: Path, tmp_path: Path) -> None:
    result = scrub(db, write(tmp_path / "list.csv", "phone\n13800138000\n"), "--column", "tel")
    assert result.exit_code == 2 and "tel" in result.output and "MISSING_COLUMN" in result.output


@pytest.mark.parametrize("at,message", [("2026-11-23T10:00:00", "needs a UTC offset"), ("tomorrow", "not an ISO-8601"),
                                        ("9999-12-31T23:00:00+08:00", "Time out of range")])
def test_bad_at(db: Path, tmp_path: Path, at: str, message: str) -> None:
    source = write(tmp_path / "list.csv", "phone\n13800138000\n")
    result = runner.invoke(app, ["scrub", str(source), "--db", str(db), "--org", "acme", "--purpose", "marketing",
                                 "--channel", "sms", "--at", at, "--out", str(tmp_path / "a.csv"), "--no-progress"])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize("option,value,message", [
    ("--purpose", "spam", "--purpose must be one of"),
    ("--channel", "fax", "--channel must be one of"),
    ("--db", "postgresql://nosuchrole@127.0.0.1:5432/test", "cannot open the store"),
    ("--db", "missing.db", "no store at"),
])
def test_bad_options(db: Path, tmp_path: Path, option: str, value: str, message: str) -> None:
    source = write(tmp_path / "list.csv", "phone\n13800138000\n")
    args = {"--db": str(db), "--org": "acme", "--purpose": "marketing", "--channel": "sms", "--at": AT}
    args[option] = str(tmp_path / value) if value == "missing.db" else value
    flat = [part for pair in args.items() for part in pair]
    result = runner.invoke(app, ["scrub", str(source), *flat, "--out", str(tmp_path / "a.csv"), "--no-progress"])
    assert result.exit_code == 2 and message in result.output


def test_out_may_not_overwrite_the_list(db: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "list.csv", "phone\n13800138000\n")
    result = scrub(db, source, "--out", str(source))
    assert result.exit_code == 2 and "overwrite" in result.output
    assert source.read_text() == "phone\n13800138000\n"


@pytest.mark.parametrize("option", ["--out", "--rejected"])
def test_an_output_that_is_a_directory_is_refused_before_scrubbing(db: Path, tmp_path: Path, option: str) -> None:
    source = write(tmp_path / "list.csv", "phone\n13800138000\n")
    folder = tmp_path / "results"
    folder.mkdir()
    before = db.read_bytes()
    result = scrub(db, source, option, str(folder), "--reserve")
    assert result.exit_code == 2 and "INVALID_OPTION" in result.output and "directory" in result.output, result.output
    assert list(folder.iterdir()) == [] and not (tmp_path / "allowed.csv").exists()
    assert db.read_bytes() == before  # --reserve recorded nothing: refused before the scrub ran


def test_a_library_caller_gets_invalid_option_for_a_time_out_of_range(db: Path, tmp_path: Path) -> None:
    """The CLI and the API check --at; run_scrub itself overflowed (OverflowError) for year 9999."""
    from datetime import timezone

    from reachguard.scrub import run_scrub
    from reachguard.scrub.source import ScrubInputError

    source = write(tmp_path / "list.csv", "phone\n13800138000\n")
    with pytest.raises(ScrubInputError) as caught:
        run_scrub(source, store=str(db), org="acme", purpose="marketing", channel="sms",
                  at=datetime(9999, 12, 31, 23, tzinfo=timezone.utc), out=tmp_path / "a.csv")
    assert caught.value.code == "INVALID_OPTION" and "Time out of range" in caught.value.message
    assert not (tmp_path / "a.csv").exists()


def test_a_library_caller_naming_a_missing_store_by_url_gets_no_store(tmp_path: Path) -> None:
    """run_scrub(store="sqlite:///missing.db") skipped the existence check (it only looked at plain
    paths), created an empty store and scrubbed against it: no opt-out, no list, all allowed."""
    from reachguard.scrub import run_scrub
    from reachguard.scrub.source import ScrubInputError

    source = write(tmp_path / "list.csv", "phone\n13800138000\n")
    missing = tmp_path / "missing.db"
    with pytest.raises(ScrubInputError) as caught:
        run_scrub(source, store=f"sqlite:///{missing}", org="acme", purpose="marketing", channel="sms",
                  at=datetime.fromisoformat("2026-11-23T10:00:00+08:00"), out=tmp_path / "a.csv")
    assert caught.value.code == "NO_STORE" and not missing.exists() and not (tmp_path / "a.csv").exists()
