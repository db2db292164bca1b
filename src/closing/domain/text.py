"""Data shown as text, never as instructions to a terminal or a log reader.

Names, titles, notes, references and everything else that comes from a deal file, the command line
or the database can hold control characters (ESC starts a terminal escape sequence; a newline
starts a forged line in `history` or in the sender's log), C1 controls (U+009B is a one-byte CSI)
and invisible formatting characters (U+202E turns the rest of a line right to left). `neutral`
shows each of them as a visible escape (`\\x1b`, `\\n`, `\\u202e`) so that a value is drawn as
what it is. Input is checked with `unsafe_characters` and refused where it arrives; `neutral` is
applied on output anyway, for data stored before the check and data from other writers.

Pure: no Rich, no click. Rich markup in data is a separate matter: data goes into Rich as `Text`.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Unicode categories that are never drawn as themselves: controls (C0, DEL, C1), format characters
# (bidi embeddings, overrides and isolates, zero-width characters, the BOM), line and paragraph
# separators (some terminals and editors break lines on them), and lone surrogates (undecodable
# bytes on the command line).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NAMES = {
    "\n": "a line break",
    "\r": "a carriage return",
    "\t": "a tab",
    "\x00": "a NUL byte",
    "\x1b": "an escape character",
}
MAX_TEXT = 2000  # characters in a name, note, reference, operator or reason


def is_unsafe(char: str) -> bool:
    """True for a character `neutral` shows as an escape."""
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def escape_char(char: str) -> str:
    """`\\n`, `\\x1b`, `\\u202e`, `\\U0001d173`: how `neutral` shows one unsafe character."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


@lru_cache(maxsize=4096)
def _neutral(value: str) -> str:
    return "".join(escape_char(c) if is_unsafe(c) else c for c in value)


def neutral(value: object) -> str:
    """`value` as text that draws as itself: every control, format and separator character shown
    as a visible escape. Printable text (the usual case) is returned as it is."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # fast path: nothing printable is unsafe
        return text
    return _neutral(text) if len(text) <= 256 else _neutral.__wrapped__(text)


def neutral_value(value: object) -> object:
    """What a template prints of a value (Jinja's `finalize`): text made `neutral`, markup the
    template itself made (anything with `__html__`) and other values left as they are."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return neutral(value)
    return value


def neutral_lines(value: str) -> str:
    """Like `neutral`, but the line breaks of a text made of several lines (an alert's body, a
    list of problems) stay line breaks; each line is neutral."""
    return "\n".join(neutral(line) for line in value.split("\n"))


def unsafe_characters(value: str) -> list[str]:
    """The distinct characters of `value` that `neutral` would escape, in order of appearance."""
    if value.isprintable():
        return []
    found: list[str] = []
    for char in value:
        if is_unsafe(char) and char not in found:
            found.append(char)
    return found


def describe(char: str) -> str:
    """`a line break (\\n)`, `the character U+202E RIGHT-TO-LEFT OVERRIDE (\\u202e)`."""
    shown = escape_char(char)
    if char in _NAMES:
        return f"{_NAMES[char]} ({shown})"
    name = unicodedata.name(char, "")
    if name:
        return f"the character U+{ord(char):04X} {name} ({shown})"
    kind = "control character" if unicodedata.category(char) == "Cc" else "invisible character"
    return f"the {kind} {shown}"


def one_line_problem(value: str, max_length: int = MAX_TEXT) -> str | None:
    """Why `value` cannot be a one-line name, note or reference (None when it can): too long, or
    holding a line break, a control character or an invisible formatting character."""
    if len(value) > max_length:
        return f"is {len(value):,} characters long; at most {max_length:,}"
    unsafe = unsafe_characters(value)
    if unsafe:
        return f"contains {describe(unsafe[0])}; write it on one line, as plain text"
    return None


def quoted(value: str) -> str:
    """A double-quoted string in which nothing can start a new line or reach a terminal: `\\` and
    `"` are escaped, and every unsafe character is shown as `neutral` shows it (logfmt values)."""
    inner = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + neutral(inner) + '"'


def shortened(value: str, limit: int = 60) -> str:
    """A neutral value cut to about `limit` characters for a message, its length said."""
    text = neutral(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(value):,} characters)"


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 event`, `2 events` (or `many`)."""
    return f"{count} {one if count == 1 else (many or one + 's')}"
