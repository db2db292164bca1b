"""Every bank-file reader is bounded: each fixture cut at every line boundary, and at byte offsets
hypothesis chooses, is read or refused with one line naming where it stopped, well within a
second (an interval timer stops a reader that spins) and 100 MB (tracemalloc's peak); a size
limit reads at most the limit plus one byte whatever `stat` says."""

from __future__ import annotations

import signal
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closing.domain.bankfiles import BankFileError
from closing.domain.bankfiles import detect as detect_module
from closing.domain.bankfiles.detect import read_bank_file, read_limited
from tests.helpers import ROOT

PACIFIC = ZoneInfo("America/Los_Angeles")
FIXTURES = ROOT / "tests" / "fixtures"
BANK_FILES = [
    FIXTURES / "company-bank-2002-06-07.bai2",
    FIXTURES / "company-bank-2002-06-07.camt054.xml",
    *sorted((FIXTURES / "bai2-package").glob("*.bai2")),
]
LIMIT_SECONDS = 1.0
LIMIT_BYTES = 100 * 1024 * 1024


class Spun(Exception):
    """The reader was still working after a second."""


@contextmanager
def bounded() -> Iterator[None]:
    """Stop the reader after a second (SIGALRM in this thread), and check its memory."""

    def stop(signum: int, frame: Any) -> None:
        raise Spun(f"still reading after {LIMIT_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, stop)
    tracemalloc.start()
    signal.setitimer(signal.ITIMER_REAL, LIMIT_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        signal.signal(signal.SIGALRM, previous)
        assert peak < LIMIT_BYTES, peak


def read_cut(tmp_path: Path, source: Path, data: bytes) -> None:
    """The cut file is read whole (a cut at the very end) or refused in one line."""
    path = tmp_path / f"cut{source.suffix}"
    path.write_bytes(data)
    with bounded():
        try:
            read_bank_file(path, PACIFIC)
        except BankFileError as error:
            message = error.message
            assert "\n" not in message and message.startswith(str(path)), message
            assert message.endswith("; nothing recorded")


def line_cuts(data: bytes) -> list[int]:
    return [0, *(i + 1 for i, byte in enumerate(data) if byte == ord("\n"))]


@pytest.mark.parametrize("source", BANK_FILES, ids=lambda path: path.name)
def test_every_fixture_cut_at_every_line_boundary(tmp_path: Path, source: Path) -> None:
    data = source.read_bytes()
    for cut in line_cuts(data):
        read_cut(tmp_path, source, data[:cut])
        read_cut(tmp_path, source, data[:cut].rstrip(b"\r\n"))  # and without its last newline


def test_a_bai2_file_cut_after_a_transaction_detail_says_it_is_cut_short(tmp_path: Path) -> None:
    """The `bai2` package looped for ever on the last 16 record of a file cut before its 49."""
    data = BANK_FILES[0].read_bytes()
    lines = data.splitlines(keepends=True)
    last_detail = max(i for i, line in enumerate(lines) if line.startswith(b"16,"))
    path = tmp_path / "cut.bai2"
    path.write_bytes(b"".join(lines[: last_detail + 1]))
    with bounded(), pytest.raises(BankFileError) as caught:
        read_bank_file(path, PACIFIC)
    assert caught.value.message == (
        f"{path}:{last_detail + 1}: the file ends here, without the trailers that close it "
        "(49, 98, 99): it is cut short; nothing recorded"
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(source=st.sampled_from(BANK_FILES), fraction=st.floats(0, 1))
def test_every_fixture_cut_at_any_byte(tmp_path: Path, source: Path, fraction: float) -> None:
    data = source.read_bytes()
    read_cut(tmp_path, source, data[: int(len(data) * fraction)])


def test_a_size_limit_reads_the_limit_plus_one_byte_whatever_stat_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/dev/zero says it has no size and never ends: it is refused after limit + 1 bytes."""
    assert read_limited(Path("/dev/zero"), 1000) is None
    monkeypatch.setattr(detect_module, "MAX_BYTES", 4096)
    with bounded(), pytest.raises(BankFileError) as caught:
        read_bank_file("/dev/zero", PACIFIC)
    assert caught.value.message == (
        "/dev/zero: the file is over 4,096 bytes, more than a bank file; nothing recorded"
    )
    small = tmp_path / "small"
    small.write_bytes(b"x" * 10)
    assert read_limited(small, 10) == b"x" * 10 and read_limited(small, 9) is None
