"""Make the pictures in docs/ from the README's own scenario, so that they cannot drift.

    .venv/bin/python docs/make_pictures.py [--out DIR]      (default: docs/)

The scenario is read from README.md itself, never written down twice: the quickstart's console
blocks (every `$ export` and `$ closing ...` line, in order), then the `closing share` block of
"The board in a browser" (run at the moment its `closing share --list` says the links were made,
15:30 on the closing day), then the memo section's `closing report -o memo.pdf` (at the end of the
quickstart's Monday; the lines after it in that block are other formats, shown without output).
Each line runs as written, through bash, with the real `closing` of this virtualenv, against a
scratch SQLite database in a scratch folder (holding a link to `workflows/`), and a terminal 100
columns wide, as the README says. What each command prints must be what the README shows under
it (link tokens, the host name and `closing serve`'s port aside); otherwise nothing is written.

The pictures, each at its moment of that run:
- `memo-page-1.png`, `memo-page-2.png`: the first two pages of `closing report -o memo.pdf`
  (`pdftoppm -png -r 100`), at the end of the quickstart's Monday.
- `web-team.png`: the team's link (`closing share team`) in Chromium 1280 pixels wide while the
  README's `closing serve` runs, at 15:30 on the closing day.
- `web-purchaser.png`: Stonestreet's link (`closing share stonestreet`, the one command not in
  the README) on a phone-sized screen, at the end of the quickstart's Monday.
- `binder-page-1.png`, `binder-page-2.png`: the first two pages of `closing binder -o
  closing-set.pdf` (its cover, and the memo's first page) after the closing set's files (small
  PDFs this script makes) are attached, at the end of the quickstart's Monday.
- `memo-60-steps-page-1.png`, `memo-60-steps-page-2.png`: the first two pages of the 60-step
  example's memo (`EXAMPLE_MEMO`: loaded, the wires in, the placement agent's fee sent), at noon
  on its closing day.

Each PNG carries the scenario it was made from (a `tEXt` chunk, `closing-scenario`: the
operator, `CLOSING_NOW` and command line of each step before it, and the picture's own).
`tests/test_doc_pictures.py` reads it back and fails when it differs from what the README's
console blocks give today: change the scenario in the README, run this script again.

Needs `pdftoppm` (poppler-utils), Debian's `chromium-headless-shell` and Playwright (in
`.[test]`). Exit codes: 0 the pictures are written; 1 the replay printed something the README
does not show (the command, its README line and a diff on stderr); 2 a tool is missing or the
README's scenario cannot be read (one line on stderr).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CHUNK = b"closing-scenario"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ScenarioError(Exception):
    """The README's scenario cannot be read or replayed (exit 2)."""


class Disagreement(Exception):
    """The replay printed something the README does not show (exit 1)."""


@dataclass(frozen=True)
class Command:
    """A `$ closing ...` line, as the README writes it, with the environment it runs in."""

    line: str
    now: str  # CLOSING_NOW, as the README exported it
    operator: str  # CLOSING_OPERATOR
    expected: tuple[str, ...]  # the README's lines under it (empty for our own steps)
    readme_line: int  # its line in README.md; 0 for a step of ours

    def step(self) -> list[str]:
        return [self.operator, self.now, self.line]


@dataclass(frozen=True)
class Picture:
    """A picture taken at this point of the run: of a `closing share` link or of the memo PDF."""

    name: str  # file name in docs/
    source: str  # "team" or a purchaser slug (the link of `closing share` it opens), or a PDF
    now: str  # the moment it shows (CLOSING_NOW of the steps before it)
    width: int  # pixels (the viewport's, or the page's at 100 dpi)
    page: int = 1  # of a PDF

    def step(self) -> list[str]:
        what = f"{self.name} from {self.source}, {self.width} px wide"
        return ["picture", self.now, what + (f", page {self.page}" if self.page != 1 else "")]


Step = Command | Picture


# --- the scenario, read from the README ----------------------------------------------------------


def section(text: str, heading: str, end: str = "\n## ") -> tuple[str, int]:
    """The text of a `## heading` section (up to `end`), and the README line it starts on."""
    start = text.index(f"\n## {heading}\n") + 1
    stop = text.find(end, start + len(heading) + 4)
    body = text[start : stop if stop != -1 else len(text)]
    return body, text.count("\n", 0, start) + 1


def console_blocks(body: str, first_line: int) -> Iterator[tuple[list[str], int]]:
    """Each ```console block of `body`: its lines, and the README line of its first."""
    for found in re.finditer(r"```console\n(.*?)```", body, re.S):
        yield found.group(1).splitlines(), first_line + body.count("\n", 0, found.start(1))


def commands(blocks: Iterator[tuple[list[str], int]], env: dict[str, str]) -> Iterator[Command]:
    """The blocks' `$ closing` lines with what the README prints under each; `$ export` lines
    update `env` (CLOSING_NOW, CLOSING_OPERATOR) for the commands after them."""
    for lines, first in blocks:
        for index, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            words = shlex.split(line[2:], comments=True)
            if words[0] == "export":
                env.update(word.partition("=")[::2] for word in words[1:])
                continue
            if words[0] != "closing":
                raise ScenarioError(f"README.md:{first + index}: not a closing command: {line}")
            output = []
            for after in lines[index + 1 :]:
                if after.startswith("$ "):
                    break
                output.append(after)
            yield Command(
                line[2:],
                env["CLOSING_NOW"],
                env["CLOSING_OPERATOR"],
                tuple(output),
                first + index,
            )


def wall_time(now: str) -> str:
    return datetime.fromisoformat(now).strftime("%Y-%m-%d %H:%M")


def moment_words(now: str) -> str:
    """`15:30 on Friday, June 7, 2002`: how a caption names a picture's moment."""
    at = datetime.fromisoformat(now)
    return f"{at:%H:%M} on {at:%A}, {at:%B} {at.day}, {at.year}"


def plan(text: str) -> list[Step]:
    """The README's scenario, in the order it runs, with the pictures where they are taken."""
    try:
        quickstart, at = section(text, "Quickstart", end="\nMore commands")
        sharing, share_at = section(text, "The board in a browser")
        memo, memo_at = section(text, "The closing memo and the record")
    except ValueError as missing:
        raise ScenarioError(f"README.md: a scenario section is missing ({missing})") from None
    env: dict[str, str] = {}
    day = list(commands(console_blocks(quickstart, at), env))
    share_block = next(console_blocks(sharing, share_at), None)
    if share_block is None:
        raise ScenarioError("README.md: 'The board in a browser' has no console block")
    made = re.search(r" made (\d{4}-\d\d-\d\d \d\d:\d\d) ", "\n".join(share_block[0]))
    moments = [wall_time(command.now) for command in day]
    if made is None or made.group(1) not in moments:
        raise ScenarioError(
            "README.md: the `closing share --list` block names no moment of the quickstart "
            "at which its links were made"
        )
    split = len(moments) - moments[::-1].index(made.group(1))
    share_env = {"CLOSING_NOW": day[split - 1].now, "CLOSING_OPERATOR": day[split - 1].operator}
    shares = list(commands(iter([share_block]), share_env))
    rest = day[split:]
    end = {"CLOSING_NOW": rest[-1].now, "CLOSING_OPERATOR": rest[-1].operator}
    memo_block = list(commands(console_blocks(memo, memo_at), dict(end)))
    if not memo_block or not memo_block[0].line.startswith("closing report -o memo.pdf"):
        raise ScenarioError("README.md: the memo section does not start with closing report")
    now, operator = end["CLOSING_NOW"], end["CLOSING_OPERATOR"]
    return [
        *day[:split],
        *shares,
        Picture("web-team.png", "team", shares[-1].now, 1280),
        *rest,
        memo_block[0],
        Picture("memo-page-1.png", "memo.pdf", memo_block[0].now, 850),
        Picture("memo-page-2.png", "memo.pdf", memo_block[0].now, 850, page=2),
        Command("closing share stonestreet", now, operator, (), 0),
        Command("closing serve", now, operator, (), 0),
        Picture("web-purchaser.png", "stonestreet", now, 390),
        *(Command(f"closing attach {line}", now, operator, (), 0) for line in CLOSING_FILES),
        Command("closing binder -o closing-set.pdf", now, operator, (), 0),
        Picture("binder-page-1.png", "closing-set.pdf", now, 850),
        Picture("binder-page-2.png", "closing-set.pdf", now, 850, page=2),
        *(Command(line, EXAMPLE_NOW, operator, (), 0) for line in EXAMPLE_MEMO),
        Picture("memo-60-steps-page-1.png", "memo-60-steps.pdf", EXAMPLE_NOW, 850),
        Picture("memo-60-steps-page-2.png", "memo-60-steps.pdf", EXAMPLE_NOW, 850, page=2),
    ]


# The 60-step example's memo (workflows/examples/), at noon on its closing day: loaded, the
# purchasers' wires in, the placement agent's fee sent from escrow, the rest still open.
EXAMPLE_NOW = "2019-06-28T12:00-07:00"
EXAMPLE_DEAL = "--deal halvorsen-registered-direct-2019-06-28"
EXAMPLE_MEMO = (
    "closing init workflows/examples/registered-direct-60-steps.yaml",
    *(
        f"closing mark-wired {slug} {EXAMPLE_DEAL} --at 10:30 --out-of-order --reason "
        "'wired before the escrow wire instructions were confirmed by call-back'"
        for slug in ("bramblewood", "northgate", "laurentian", "sable-point", "harrow-street")
    ),
    f"closing mark company closing_memo {EXAMPLE_DEAL} --at 11:00 --out-of-order --reason "
    "'circulated in agreed form before the pricing committee minutes'",
    f"closing mark-sent pa_fee {EXAMPLE_DEAL} --imad 20190628QMGFT001000123 --omad "
    "20190628B1QGC07C004411 --at 11:45",
    f"closing report {EXAMPLE_DEAL} -o memo-60-steps.pdf",
)


# The closing set's files the binder pictures hold (made by `Run` in its folder, small PDFs).
CLOSING_FILES = (
    "stonestreet spa stonestreet-signature-page.pdf",
    "stonestreet spa spa-countersigned-stonestreet.pdf --signatory company",
    "bnc spa bnc-bach-signature-page.pdf",
    "bnc spa spa-countersigned-bnc-bach.pdf --signatory company",
    "stonestreet warrant warrant-W-1.pdf",
    "company prospectus_supplement prospectus-supplement-424b5.pdf",
)


def scenario_of(steps: list[Step], name: str) -> list[list[str]]:
    """What the picture `name` is made from: every step before it, and its own."""
    made: list[list[str]] = []
    for step in steps:
        made.append(step.step())
        if isinstance(step, Picture) and step.name == name:
            return made
    raise KeyError(name)


# --- the scenario a PNG carries ------------------------------------------------------------------


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes, int]]:
    """Each chunk of a PNG: its type, its data, and its offset."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    offset = len(PNG_SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        yield kind, data[offset + 8 : offset + 8 + length], offset
        offset += 12 + length


def with_scenario(data: bytes, scenario: list[list[str]]) -> bytes:
    """The PNG with its scenario as a tEXt chunk (ASCII JSON) before IEND, in place of any it
    carried."""
    body = CHUNK + b"\0" + json.dumps(scenario, ensure_ascii=True, indent=1).encode("ascii")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body))
    kept = [PNG_SIGNATURE]
    for kind, data_of, offset in png_chunks(data):
        if kind == b"IEND":
            kept.append(chunk)
        if not (kind == b"tEXt" and data_of.startswith(CHUNK + b"\0")):
            kept.append(data[offset : offset + 12 + len(data_of)])
    return b"".join(kept)


def scenario_in(data: bytes) -> list[list[str]] | None:
    """The scenario a PNG was made from, or None when it carries none."""
    for kind, body, _ in png_chunks(data):
        keyword, _, value = body.partition(b"\0")
        if kind == b"tEXt" and keyword == CHUNK:
            found: list[list[str]] = json.loads(value)
            return found
    return None


# --- the run -------------------------------------------------------------------------------------


def normalised(lines: list[str]) -> list[str]:
    """What may differ between runs, made the same: link tokens (and their masked prefixes),
    the host an operator marks from, and the port `closing serve` listens on."""
    out = []
    for line in lines:
        line = re.sub(r"/b/[A-Za-z0-9_-]{43}", "/b/TOKEN", line)
        line = re.sub(r"^(#\d+  )\S{4}…", r"\1TOKN…", line)
        line = re.sub(r"\bby (\w+)@\S+", r"by \1@HOST", line)
        line = re.sub(r"http://127\.0\.0\.1:\d+/", "http://127.0.0.1:8080/", line)
        out.append(line)
    return out


def check(command: Command, printed: str, prefix: bool = False) -> None:
    """The command printed what the README shows under it (for a server still running, its
    first lines)."""
    if command.readme_line == 0:
        return
    got = normalised(printed.splitlines())
    want = normalised(list(command.expected))
    if prefix:
        got = got[: len(want)]
    if got != want:
        diff = "\n".join(difflib.unified_diff(want, got, "README.md", "the replay", lineterm=""))
        raise Disagreement(f"README.md:{command.readme_line}: $ {command.line}\n{diff}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Run:
    """The scenario run in a scratch folder, with its own database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "workflows").symlink_to(ROOT / "workflows")
        bin_dir = Path(sys.executable).parent
        if not (bin_dir / "closing").exists():
            raise ScenarioError(f"no closing next to {sys.executable}: pip install -e '.[test]'")
        self.base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CLOSING_") and key not in ("COLUMNS", "LINES", "NO_COLOR")
        }
        # The README's operator is an OS account (alice): on a machine with one account, its
        # commands run through a `closing` that stands in for her (the identity patched in that
        # process, as only who can write the database file anyway could).
        stand_in = folder / "bin"
        stand_in.mkdir()
        (stand_in / "closing").write_text(
            f"#!{sys.executable}\n"
            "import os\nimport closing.store.identity as identity\n"
            "identity.os_account = lambda: os.environ['CLOSING_OPERATOR']\n"
            "from closing.cli import main\nmain()\n"
        )
        (stand_in / "closing").chmod(0o755)
        self.base.update(
            PATH=f"{stand_in}{os.pathsep}{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            CLOSING_DATABASE_URL=f"sqlite:///{folder / 'closing.db'}",
            COLUMNS="100",
            LINES="40",
            NO_COLOR="1",
        )
        self.tokens: dict[str, str] = {}
        self.server: subprocess.Popen[str] | None = None
        self.serving: Command | None = None  # the `closing serve` line it runs
        self.port = 0
        self.done: list[list[str]] = []
        self.made: dict[Picture, bytes] = {}  # written once the whole scenario has run
        from pypdf import PdfWriter

        for line in CLOSING_FILES:
            writer = PdfWriter()
            writer.add_blank_page(612, 792)
            name = line.split()[2]
            writer.add_metadata({"/Title": name})
            with (folder / name).open("wb") as out:
                writer.write(out)

    def env(self, command: Command) -> dict[str, str]:
        return {
            **self.base,
            "CLOSING_NOW": command.now,
            "CLOSING_OPERATOR": command.operator,
        }

    def step(self, step: Step, browser: object) -> None:
        self.done.append(step.step())
        if isinstance(step, Picture):
            self.picture(step, browser)
            return
        self.stop_server()
        if shlex.split(step.line, comments=True)[:2] == ["closing", "serve"]:
            self.start_server(step)
            return
        ran = subprocess.run(
            ["bash", "-c", step.line],
            cwd=self.folder,
            env=self.env(step),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        check(step, ran.stdout)
        link = re.search(r"^Link #\d+: .*\n(\S+/b/(\S+))$", ran.stdout, re.M)
        words = shlex.split(step.line)
        if link is not None and len(words) == 3 and words[1] == "share":
            self.tokens[words[2]] = link.group(2)

    def start_server(self, command: Command) -> None:
        self.port = free_port()
        line = f"{command.line} --port {self.port}"
        self.server = subprocess.Popen(
            ["bash", "-c", f"exec {line}"],
            cwd=self.folder,
            env=self.env(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.serving = command
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1):
                    break
            except urllib.error.HTTPError:
                break  # it answers (404 for the bare address)
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    printed = self.stop_server()
                    raise ScenarioError(f"closing serve did not start: {printed}") from None
                time.sleep(0.05)

    def stop_server(self) -> str:
        if self.server is None:
            return ""
        self.server.send_signal(signal.SIGTERM)
        printed, _ = self.server.communicate(timeout=20)
        self.server = None
        if self.serving is not None:
            check(self.serving, printed, prefix=True)
        return printed

    def picture(self, picture: Picture, browser: object) -> None:
        if picture.source.endswith(".pdf"):
            stem = self.folder / "page"
            pdf = str(self.folder / picture.source)
            first_page = ["-f", str(picture.page), "-l", str(picture.page), "-singlefile"]
            subprocess.run(
                ["pdftoppm", "-png", "-r", "100", *first_page, pdf, str(stem)], check=True
            )
            data = stem.with_suffix(".png").read_bytes()
        else:
            data = self.screenshot(picture, browser)
        self.made[picture] = with_scenario(data, self.done)

    def screenshot(self, picture: Picture, browser: object) -> bytes:
        if self.server is None or picture.source not in self.tokens:
            raise ScenarioError(f"{picture.name}: no closing serve and share {picture.source}")
        phone = picture.width < 600
        page = browser.new_page(  # type: ignore[attr-defined]
            viewport={"width": picture.width, "height": 844 if phone else 720},
            device_scale_factor=2 if phone else 1,
        )
        page.goto(f"http://127.0.0.1:{self.port}/b/{self.tokens[picture.source]}")
        page.wait_for_selector("#live[data-state=live]", timeout=10000)
        data: bytes = page.screenshot(full_page=True)
        page.close()
        return data


def make(out: Path) -> None:
    steps = plan(README.read_text())
    for tool, package in (("pdftoppm", "poppler-utils"), ("chromium-headless-shell",) * 2):
        if shutil.which(tool) is None:
            raise ScenarioError(f"{tool} is not installed: apt-get install {package}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ScenarioError("playwright is not installed: pip install -e '.[test]'") from None
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="closing-pictures-") as folder,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium-headless-shell")
        )
        run = Run(Path(folder))
        try:
            for step in steps:
                run.step(step, browser)
        finally:
            run.stop_server()
            browser.close()
    for picture, data in run.made.items():
        (out / picture.name).write_bytes(data)
        sys.stdout.write(f"Wrote {out / picture.name} ({moment_words(picture.now)}).\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where (default docs/)")
    args = parser.parse_args(argv)
    try:
        make(args.out)
    except ScenarioError as problem:
        sys.stderr.write(f"Error: {problem}\n")
        return 2
    except Disagreement as problem:
        sys.stderr.write(f"Error: the replay differs from {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
