"""The hardened YAML reader of deal files: plain values (scalars stay text) built from the parse
events with the line of every key, within limits on size, nodes, aliases and depth, refusing
what YAML does not allow and text values with control or invisible characters."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from closing.domain.dealfile.located import Loc, Located, dotted, dotted_key
from closing.domain.errors import DealFileError, Problem
from closing.domain.files import NotARegularFile, read_limited
from closing.domain.text import describe, neutral, one_line_problem

_NULLS = {"", "~", "null", "Null", "NULL"}


class Refused(Exception):
    """A file refused as a whole (too large, not text, not YAML, an alias bomb): one problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# Limits that keep a hostile file from costing more than a moment and a few megabytes. A deal
# of 10,000 purchasers is about 3 MB and 250,000 nodes.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 1_000_000  # keys, values and items; an alias counts as every node it stands for
MAX_ALIASES = 10_000
MAX_DEPTH = 32
_SEPARATOR = re.compile(r"[,\n]")
# What YAML allows in a file (YAML 1.1 "printable"); libyaml refuses anything else with an error
# that has no line number, so it is found first. Compiled on first use (by `re`'s own cache):
# the compilation of its ranges costs milliseconds that commands reading no deal file skip.
_NOT_YAML_TEXT = "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def read_deal_text(file: Path, shown: str) -> str:
    """The file's text: a regular file (never a pipe or a device, which could block or never
    end) of at most `MAX_FILE_BYTES`, UTF-8, and only characters YAML allows."""
    try:
        raw = read_limited(file, MAX_FILE_BYTES, regular_only=True)
    except FileNotFoundError:
        raise DealFileError([Problem(shown, None, "no such file; check the path")]) from None
    except NotARegularFile as error:
        message = f"is {error.kind}, not a regular file; a deal file is a file"
        raise DealFileError([Problem(shown, None, message)]) from None
    except OSError as error:
        reason = neutral(error.strerror or type(error).__name__)
        raise DealFileError([Problem(shown, None, f"cannot read the file: {reason}")]) from None
    if raw is None:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        raise DealFileError(
            [Problem(shown, 1, f"the file is larger than {limit} MB; a deal file is at most that")]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        byte = raw[error.start]
        raise DealFileError(
            [Problem(shown, line, f"not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8")]
        ) from None
    bad = re.search(_NOT_YAML_TEXT, text)
    if bad is not None:
        line = _line_at(text, bad.start())
        raise DealFileError(
            [Problem(shown, line, f"contains {describe(bad.group())}; a deal file is plain text")]
        )
    return text


class Composer:
    """Plain Python values from YAML parse events (PyYAML's composer without its node graph),
    recording the line of every key and item.

    Every node is counted as it is read; an alias adds the count of the node it refers to and
    shares its value instead of copying it, so nine levels of nine aliases are refused at the
    first alias past `MAX_NODES`, having cost nothing. Scalars stay text; plain `null`/`~` and
    `true`/`false` become None and booleans, as before. A text value that is too long or holds a
    line break, a control or an invisible formatting character is a problem on its line."""

    def __init__(self, located: Located, text: str) -> None:
        import yaml

        self.yaml = yaml
        self.located = located
        self.text = text
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.events = yaml.parse(text, Loader=loader)
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.aliases = 0

    def document(self) -> Any:
        yaml = self.yaml
        self._too_many_at_a_glance()
        try:
            self._next()  # StreamStart
            event = self._next()
            if isinstance(event, yaml.StreamEndEvent):
                return None
            root = self._node(self._next(), (), 0)
            self._next()  # DocumentEnd
            event = self._next()
            if not isinstance(event, yaml.StreamEndEvent):
                raise Refused(
                    event.start_mark.line + 1,
                    "not valid YAML: a deal file is one document (remove the second ---)",
                )
            return root
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else 1
            raise Refused(line, f"not valid YAML: {neutral(error.problem or '')}") from None
        except yaml.YAMLError as error:
            raise Refused(1, f"not valid YAML: {neutral(str(error).splitlines()[0])}") from None

    def _too_many_at_a_glance(self) -> None:
        """Refuse before parsing a text with more separators (commas and line breaks, one at
        least between any two items) than `MAX_NODES`: 2.4 million small items cost seconds and
        hundreds of megabytes to parse, and a few milliseconds to count."""
        text = self.text
        if text.count(",") + text.count("\n") <= MAX_NODES:
            return
        past = next(itertools.islice(_SEPARATOR.finditer(text), MAX_NODES, None))
        raise Refused(
            _line_at(text, past.start()),
            f"more than {MAX_NODES:,} keys, values and items (a deal of 10,000 purchasers has "
            "about 250,000)",
        )

    def _next(self) -> Any:
        return next(self.events)

    def _count(self, nodes: int, line: int) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise Refused(
                line,
                f"more than {MAX_NODES:,} keys, values and items (counting what each alias "
                "stands for); a deal file is not that large",
            )

    def _node(self, event: Any, loc: Loc, depth: int) -> Any:
        yaml = self.yaml
        line = event.start_mark.line + 1
        if depth > MAX_DEPTH:
            raise Refused(line, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event.anchor, line)
        anchor = event.anchor
        if anchor is not None:
            if anchor in self.anchors or anchor in self.open_anchors:
                raise Refused(line, f"not valid YAML: found duplicate anchor {neutral(anchor)!r}")
            self.open_anchors.add(anchor)
        first = self.nodes
        self._count(1, line)
        value: Any
        if isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event, loc)
        elif isinstance(event, yaml.SequenceStartEvent):
            items: list[Any] = []
            item = self._next()
            while not isinstance(item, yaml.SequenceEndEvent):
                index = len(items)
                self.located.lines[(*loc, index)] = item.start_mark.line + 1
                items.append(self._node(item, (*loc, index), depth + 1))
                item = self._next()
            value = items
        else:
            value = self._mapping(loc, depth)
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.anchors[anchor] = (value, self.nodes - first)
        return value

    def _alias(self, anchor: str, line: int) -> Any:
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise Refused(line, f"more than {MAX_ALIASES:,} aliases (*name)")
        if anchor in self.open_anchors:
            raise Refused(line, f"alias *{neutral(anchor)} refers to a node that contains it")
        if anchor not in self.anchors:
            raise Refused(line, f"not valid YAML: found undefined alias {neutral(anchor)!r}")
        value, nodes = self.anchors[anchor]
        self._count(nodes, line)
        return value

    def _mapping(self, loc: Loc, depth: int) -> dict[str, Any]:
        yaml = self.yaml
        result: dict[str, Any] = {}
        event = self._next()
        while not isinstance(event, yaml.MappingEndEvent):
            key = self._key(event, loc)
            self.located.lines[(*loc, key)] = event.start_mark.line + 1
            value = self._node(self._next(), (*loc, key), depth + 1)
            if key in result:
                self.located.problem((*loc, key), f"duplicate key {dotted_key(loc, key)!r}")
            else:
                result[key] = value
            event = self._next()
        return result

    def _key(self, event: Any, loc: Loc) -> str:
        """A mapping key as written (`true:` is the key 'true'); keys are plain text."""
        yaml = self.yaml
        line = event.start_mark.line + 1
        key: Any
        if isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                raise Refused(line, "an anchor (&name) on a key is not supported")
            self._count(1, line)
            key = event.value
        elif isinstance(event, yaml.AliasEvent):
            key = self._alias(event.anchor, line)
        else:
            key = None
        if not isinstance(key, str):
            raise Refused(line, f"{dotted(loc) or 'the file'}: a key must be plain text")
        problem = one_line_problem(key, 200)
        if problem:
            raise Refused(line, f"{dotted(loc) or 'the file'}: a key {problem}")
        return key

    def _scalar(self, event: Any, loc: Loc) -> Any:
        value: str = event.value
        plain = event.style in (None, "")
        if plain and value in _NULLS:
            return None
        if plain and value in ("true", "True", "false", "False"):
            return value.lower() == "true"
        problem = one_line_problem(value.strip())
        if problem:
            self.located.lines.setdefault(loc, event.start_mark.line + 1)
            self.located.problem(loc, f"{dotted(loc)}: {problem}")
        return value
