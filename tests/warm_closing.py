"""`python -m closing ARGS`, warmed up: import what the command needs, print `ready`, wait for one
line of JSON on stdin (environment variables to add, such as CLOSING_NOW), then run the command
exactly as `python -m closing` runs it.

The alert daemon tests start these before the moment that matters and release them at it. Starting
an interpreter and importing closing takes about 0.5 s on an idle 2-core machine and several
seconds under load; that time must not decide which alerts a restarted daemon finds due, or
whether a mark lands before the cutoff.

    python tests/warm_closing.py alerts run --safety 1
"""

from __future__ import annotations

import json
import os
import sys

import apprise  # noqa: F401  (what a daemon with notification URLs imports at its start)
from apscheduler.executors.pool import ThreadPoolExecutor  # noqa: F401
from apscheduler.schedulers.background import BackgroundScheduler  # noqa: F401

import closing.cli
import closing.cli.alerts
import closing.cli.marks
import closing.services.alerts.daemon


def main() -> None:
    print("ready", flush=True)  # noqa: T201 (the test reads it)
    os.environ.update(json.loads(sys.stdin.readline()))
    closing.cli.run()  # what `python -m closing` runs; it exits with the command's code


if __name__ == "__main__":
    main()
