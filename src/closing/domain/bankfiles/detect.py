"""Which kind of bank file this is, from its content (never its name), and reading it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

from closing.domain.bankfiles import BankFile, BankFileError, stored_form
from closing.domain.files import read_limited

MAX_BYTES = 50 * 1024 * 1024  # a day's statement of a large company is a few megabytes


def detect(data: bytes) -> str | None:
    """`bai2`, `camt` (XML), `mt940`, or None."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:64]
    if head.startswith(b"<"):
        return "camt"
    if head.startswith(b"01,"):
        return "bai2"
    if head.startswith((b":20:", b"{1:")) or b"\n:20:" in data[:512]:
        return "mt940"
    return None


def read_bank_file(path: str | Path, zone: ZoneInfo) -> BankFile:
    """Read and parse a bank file; `BankFileError` names what is wrong and where."""
    file = Path(path)
    name = str(path)
    try:
        read = read_limited(file, MAX_BYTES)
        if read is None:
            raise BankFileError(
                name, None, f"the file is over {MAX_BYTES:,} bytes, more than a bank file"
            )
        data = read
    except FileNotFoundError:
        raise BankFileError(name, None, "no such file; check the path") from None
    except IsADirectoryError:
        raise BankFileError(name, None, "is a folder, not a bank file") from None
    except OSError as error:
        raise BankFileError(name, None, f"cannot read the file ({error.strerror})") from None
    return parse_bank_file(data, name, zone)


def parse_bank_file(data: bytes, name: str, zone: ZoneInfo) -> BankFile:
    """A bank file's bytes parsed (an upload's, or a file's read by `read_bank_file`), its
    format by its content; `BankFileError` names what is wrong and where."""
    from closing.domain.bankfiles.bai2 import parse_bai2
    from closing.domain.bankfiles.camt import parse_camt

    file = Path(name)
    digest = hashlib.sha256(data).hexdigest()
    kind = detect(data)
    if kind == "camt":
        form, entries = parse_camt(data, name, zone)
        return BankFile(form, file.name, digest, stored_form(entries, name))
    if kind == "bai2":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise BankFileError(name, line, "not text (a BAI2 file is plain ASCII)") from None
        return BankFile("bai2", file.name, digest, stored_form(parse_bai2(text, name, zone), name))
    if kind == "mt940":
        raise BankFileError(
            name,
            1,
            "looks like a SWIFT MT940 statement, which closing does not read; ask the "
            "bank for BAI2 or ISO 20022 camt.053/camt.054",
        )
    raise BankFileError(
        name, 1, "not a BAI2 file (starts with 01,) or an ISO 20022 camt.053/camt.054 XML document"
    )
