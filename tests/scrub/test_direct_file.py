"""OutputFile writes exactly the bytes it is given, past the page cache or not."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from reachguard.scrub import direct_file
from reachguard.scrub.direct_file import OutputFile


def _pieces(sizes: list[int]) -> list[bytes]:
    rng = np.random.default_rng(sum(sizes) + len(sizes))
    return [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in sizes]


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("sizes", [[], [0], [1], [4095, 1], [100, 5000, 70_000, 3], [8192] * 9, [20_000, 1]])
def test_the_file_holds_exactly_what_was_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool,
                                                 sizes: list[int]) -> None:
    monkeypatch.setattr(direct_file, "STAGE_BYTES", 16384)  # several stage flushes with small data
    monkeypatch.setattr(direct_file, "_BLOCK", 4096)
    pieces = _pieces(sizes)
    path = tmp_path / "out.bin"
    with OutputFile(path, direct=direct) as out:
        for piece in pieces:
            out.write(piece)
        if direct and direct_file._DIRECT:
            assert out.direct  # ext4 takes O_DIRECT: the direct path is what this test exercises
    assert path.read_bytes() == b"".join(pieces)
    assert out.size == sum(sizes)


def test_a_filesystem_refusing_o_direct_gets_a_buffered_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def refuse_direct(path, flags, mode=0o777):  # type: ignore[no-untyped-def]
        if direct_file._DIRECT and flags & direct_file._DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(direct_file.os, "open", refuse_direct)
    path = tmp_path / "out.csv"
    with OutputFile(path) as out:
        out.write(b"a,b\n1,2\n")
    assert not out.direct and path.read_bytes() == b"a,b\n1,2\n"


def test_other_open_errors_are_not_hidden(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        OutputFile(tmp_path / "no such folder" / "out.csv")


def test_the_environment_can_turn_direct_io_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACHGUARD_SCRUB_DIRECT_IO", "0")
    with OutputFile(tmp_path / "out.csv") as out:
        out.write(b"x")
    assert not out.direct and (tmp_path / "out.csv").read_bytes() == b"x"
