"""The README's closing day, replayed for the memo's tests (`closing_day`), and a PDF's text."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from tests.helpers import ROOT, Cli

README = ROOT / "README.md"
MONDAY = "2002-06-10T10:20:00-07:00"  # the README's last mark, and its memo


def quickstart() -> Iterator[tuple[str, list[str], bool]]:
    """The README quickstart's `closing` commands that record something, in order: (the
    CLOSING_NOW they run at, their arguments, whether the README shows them refused)."""
    text = README.read_text().split("## Quickstart", 1)[1].split("\nMore commands", 1)[0]
    now = ""
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            words = shlex.split(line[2:], comments=True)
            if words[0] == "export":
                settings = dict(word.partition("=")[::2] for word in words[1:])
                now = settings.get("CLOSING_NOW", now)
            elif words[0] == "closing" and words[1] not in ("status", "history"):
                refused = index + 1 < len(lines) and lines[index + 1].startswith("Error:")
                yield now, words[1:], refused


def closing_day(
    cli: Cli, seed_path: Path, until: str | None = None, after: str | None = None
) -> list[str]:
    """Replays the README's closing day (the part of it up to `until`, or after `after`); the
    commands run."""
    ran = []
    for now, args, refused in quickstart():
        moment = datetime.fromisoformat(now)
        if until is not None and moment > datetime.fromisoformat(until):
            break
        if after is not None and moment <= datetime.fromisoformat(after):
            continue
        if args[0] == "init":
            args = ["init", str(seed_path)]
        result = cli(*args, now=now)
        assert (result.code != 0) == refused, (args, result.err)
        ran.append(shlex.join(args))
    return ran


def pdf_text(path: Path) -> tuple[list[str], str]:
    """Each page's text, and all of it with every run of white space made one space (a cell's
    text may wrap anywhere)."""
    from pypdf import PdfReader

    pages = [page.extract_text() for page in PdfReader(path).pages]
    return pages, " ".join(" ".join(pages).split())
