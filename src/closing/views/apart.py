"""A job run in a forked child process, its result (or its exception) handed back: the binder's
WeasyPrint layouts, so that the megabytes a layout leaves behind (Python's arenas, Pango's and
fontconfig's caches) go back to the system with the child, before the files come in.

Only where forking is safe: on Linux, in a process with one thread (the command line). Anywhere
else (a test runner's threads, a web server, another system) the job runs in this process: the
result is the same, only the memory differs. The child's peak memory is the command's as the
system counts it (a parent's `wait4` includes the children it waited for).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _forkable() -> bool:
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


def in_child(job: Callable[[], T]) -> T:
    """`job()`, run in a forked child when that is safe (else here); what it returns must pickle.
    An exception the job raises is raised here (as itself when it pickles, else a RuntimeError
    with its text)."""
    if not _forkable():
        return job()
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        code = 0
        try:
            try:
                answer = pickle.dumps((True, job()))
            except BaseException as error:  # handed to the parent
                code = 1
                try:
                    answer = pickle.dumps((False, error))
                    pickle.loads(answer)  # it must come back whole too
                except Exception:  # one that does not pickle
                    answer = pickle.dumps((False, RuntimeError(str(error))))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(answer)
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not answer:
        raise RuntimeError(f"a layout process ended without an answer (status {status})")
    done, value = pickle.loads(answer)
    if not done:
        raise value
    return value  # type: ignore[no-any-return]
