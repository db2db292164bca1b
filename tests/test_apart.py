"""`in_child`: a job run in a forked child where that is safe, its result or exception handed
back; in this process where it is not (another thread running)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from closing.domain.errors import RecordBrokenError
from closing.views.apart import in_child


def _forkable_here() -> bool:
    return sys.platform == "linux" and threading.active_count() == 1


def test_the_result_comes_back_from_the_child() -> None:
    here = os.getpid()
    pid, value = in_child(lambda: (os.getpid(), [b"%PDF", {"pages": 3}]))
    assert value == [b"%PDF", {"pages": 3}]
    assert (pid != here) == _forkable_here()


def test_the_childs_exception_is_raised_here_as_itself() -> None:
    def broken() -> None:
        raise RecordBrokenError("the stored bytes of a.pdf no longer match its SHA-256")

    with pytest.raises(RecordBrokenError, match="no longer match"):
        in_child(broken)


def test_an_exception_that_does_not_pickle_comes_back_as_its_text() -> None:
    class Local(Exception):  # a local class: pickle cannot find it again
        pass

    def broken() -> None:
        raise Local("laid out wrong")

    with pytest.raises(Exception, match="laid out wrong"):
        in_child(broken)


def test_with_another_thread_running_the_job_runs_here() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert in_child(os.getpid) == os.getpid()
    finally:
        stop.set()
        other.join()
