"""Whole-process wall time and peak memory (RSS) of `closing attach` of a large PDF and of
`closing binder` of a large closing set.

    python benchmarks/bench_binder.py [--big-mb 10] [--files 40] [--total-mb 60] [--smoke]

The seed deal in a SQLite database under a temp dir. The PDFs are real: each page a JPEG of
noise (which does not compress), embedded losslessly by img2pdf. (a) `closing attach` of one
`--big-mb` PDF, as a subprocess; (b) `--files` files totalling `--total-mb` attached (in this
process, through the service), then `closing binder -o` and `closing binder --format zip`, each
as a subprocess. Peak RSS is the command's (`os.wait4`: the largest of the process and the
children it waited for, such as the binder's layout process), against the import floor (a process
that imports what the binder imports). Budgets: each at most a few seconds, and peak RSS under
3x the file plus the floor for attach, under 3x the largest file plus the floor for the binder
(PDF and zip: each file is copied from the database a piece at a time). Beside the import floor,
the binder's own: `closing binder` of the set of one 1 kB file (the memo, cover and index laid
out). --smoke runs tiny sizes once and judges nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _deals import CLOSING, SEED, cli_env

NOW = "2002-06-07T09:00:00-07:00"
# What each command imports before it reads a byte: its memory floor.
ATTACH_FLOOR = "import closing.cli, closing.cli.documents, closing.services.documents, sqlite3"
BINDER_FLOOR = (
    "import closing.cli, closing.cli.documents, closing.services.binder, closing.views.binder, "
    "closing.views.memo, pikepdf, img2pdf, weasyprint"
)


def noise_pdf(path: Path, size: int, seed: int) -> Path:
    """A PDF of about `size` bytes: pages of JPEG noise (about 1.5 MB each)."""
    import img2pdf
    from PIL import Image

    pages: list[bytes] = []
    total = 0
    rng = seed
    while total < size:
        want = min(1_500_000, size - total)
        side = max(64, int((want / 1.9) ** 0.5))
        rng += 1
        noise = Image.frombytes("L", (side, side), os.urandom(side * side))
        buffer = io.BytesIO()
        noise.save(buffer, format="JPEG", quality=90)
        pages.append(buffer.getvalue())
        total += len(pages[-1])
    path.write_bytes(img2pdf.convert(pages))
    return path


def measured(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, the child's peak RSS (bytes, from wait4: its own or that of a process it
    waited for, whichever is larger) and what it printed."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become the command, its output to a file
        out = os.open(env["BENCH_OUT"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.execvpe(args[0], args, env)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    printed = Path(env["BENCH_OUT"]).read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(args)}\n{printed[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024, printed


def attach_in_process(url: str, files: list[Path]) -> None:
    """The closing set's files attached through the service `closing attach` uses."""
    from closing.services.documents import AttachRequest, attach_file
    from closing.store.connection import Database

    database = Database(url)
    places = [
        ("stonestreet", "wire_confirmation"),
        ("bnc-bach", "wire_confirmation"),
        ("company", "prospectus_supplement"),
        ("company", "transfer_agent_letter"),
        ("stonestreet", "warrant"),
        ("bnc-bach", "warrant"),
    ]
    now = datetime(2002, 6, 7, 16, 0, tzinfo=UTC)
    try:
        for number, path in enumerate(files):
            party, document = places[number % len(places)]
            request = AttachRequest(
                party=party,
                document=document,
                name=path.name,
                content=path.read_bytes(),
                actor="bench",
                host="bench",
            )
            attach_file(database, None, request, now)
    finally:
        database.close()


def mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mb", type=float, default=10)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--total-mb", type=float, default=60)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, nothing judged")
    options = parser.parse_args()
    if options.smoke:
        options.big_mb, options.files, options.total_mb = 0.3, 4, 1.2
    with tempfile.TemporaryDirectory(prefix="closing-bench-binder-") as folder:
        here = Path(folder)
        url = f"sqlite:///{here / 'closing.db'}"
        env = {**cli_env(url, NOW), "BENCH_OUT": str(here / "out.txt")}
        measured([*CLOSING, "init", str(SEED)], env)
        imports = measured([sys.executable, "-c", ATTACH_FLOOR], env)[1]
        binder_floor = measured([sys.executable, "-c", BINDER_FLOOR], env)[1]
        # The attach's own floor: the same command for a file of 1 kB (the deal's terms read and
        # validated, the chain locked and replayed, the event appended).
        tiny = noise_pdf(here / "one-page.pdf", 1_000, 0)
        floor = measured([*CLOSING, "attach", "company", "transfer_agent_letter", str(tiny)], env)[
            1
        ]
        small = [*CLOSING, "binder", "-o", str(here / "one-file-set.pdf")]
        binder_small = measured(small, env)[1]
        print(
            f"import floor: attach {mb(imports)} RSS imported, {mb(floor)} attaching 1 kB; "
            f"binder (pikepdf, WeasyPrint) {mb(binder_floor)} imported, {mb(binder_small)} for "
            "a set of one 1 kB file"
        )

        big = noise_pdf(here / "big-signature-package.pdf", int(options.big_mb * 1_000_000), 1)
        attach = [*CLOSING, "attach", "company", "prospectus_supplement", str(big)]
        seconds, attach_rss, _ = measured(attach, env)
        size = big.stat().st_size
        print(
            f"(a) closing attach of a {mb(size)} PDF: {seconds:.2f} s, peak RSS {mb(attach_rss)} "
            f"(floor + {mb(attach_rss - floor)}, {(attach_rss - floor) / size:.1f}x the file)"
        )

        each = int(options.total_mb * 1_000_000 / options.files)
        files = [
            noise_pdf(here / f"doc-{n:02d}.pdf", each, n * 100) for n in range(options.files - 1)
        ]
        attach_in_process(url, files)
        total = size + sum(path.stat().st_size for path in files)
        largest = max([size, *(path.stat().st_size for path in files)])
        print(f"closing set: {len(files) + 2} files, {mb(total)}, largest {mb(largest)}")
        out_pdf = here / "closing-set.pdf"
        seconds, rss_pdf, printed = measured([*CLOSING, "binder", "-o", str(out_pdf)], env)
        made = printed.strip().rsplit("(", 1)[-1].rstrip(").")
        print(
            f"(b) closing binder -o closing-set.pdf: {seconds:.2f} s, peak RSS {mb(rss_pdf)} "
            f"(floor + {mb(rss_pdf - binder_floor)}, one-file set + {mb(rss_pdf - binder_small)});"
            f" {made}, {mb(out_pdf.stat().st_size)}"
        )
        zipped = [*CLOSING, "binder", "--format", "zip", "-o", str(here / "closing-set.zip")]
        seconds, rss, _ = measured(zipped, env)
        print(
            f"(c) closing binder --format zip: {seconds:.2f} s, peak RSS {mb(rss)} "
            f"(floor + {mb(rss - binder_floor)}, one-file set + {mb(rss - binder_small)})"
        )
        if options.smoke:
            print(
                "budgets (not judged: smoke run): attach and binder a few seconds each; attach "
                "RSS under 3x the file plus the floor"
            )
        else:
            print(
                "budgets (issue 22): peak RSS under the import floor plus 3x the file (attach) or "
                f"3x the largest file (binder); the binder's floor is a process that imports what "
                f"the command imports ({BINDER_FLOOR.removeprefix('import ')}): "
                f"{mb(binder_floor)}; the attach's is the same command attaching 1 kB: {mb(floor)}"
            )
            judged = attach_rss - floor <= 3 * size
            print(
                f"{'PASS' if judged else 'FAIL'}  attach RSS {mb(attach_rss)} under "
                f"{mb(floor + 3 * size)} (floor {mb(floor)} + 3x the file {mb(3 * size)}): "
                f"floor + {mb(attach_rss - floor)}"
            )
            for label, peak in (("binder PDF", rss_pdf), ("binder zip", rss)):
                fits = peak - binder_floor <= 3 * largest
                print(
                    f"{'PASS' if fits else 'FAIL'}  {label} RSS {mb(peak)} under "
                    f"{mb(binder_floor + 3 * largest)} (floor {mb(binder_floor)} + 3x the largest "
                    f"file {mb(3 * largest)}): floor + {mb(peak - binder_floor)}"
                )


if __name__ == "__main__":
    main()
