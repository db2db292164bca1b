"""The tree keeps its promises to the next developer: one name for one thing, no function that
only forwards a call, modules that do one job (500 lines at most), and a README map that names
every module of the package and nothing that is not there."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "closing"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 500


def relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def test_no_two_public_definitions_share_a_name() -> None:
    """A public function or class is defined in one module only: a reader who meets a name
    opens one file (migrations, which pin their own copies of the past, excepted)."""
    where: dict[str, list[str]] = defaultdict(list)
    for path in SOURCES:
        if "migrations" in path.parts:
            continue
        for node in tree(path).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not (
                node.name.startswith("_")
            ):
                where[node.name].append(relative(path))
    shared = {name: places for name, places in where.items() if len(places) > 1}
    assert shared == {}


def _forwards(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """True when the body (after any docstring) only calls another function with the same
    arguments, in the same order, and returns what it returns."""
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1:
        return False
    statement = body[0]
    call = statement.value if isinstance(statement, ast.Return | ast.Expr) else None
    if isinstance(call, ast.Await):
        call = call.value
    if not isinstance(call, ast.Call):
        return False
    arguments = function.args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    if names and names[0] in ("self", "cls"):
        return False  # a method delegating to its object's parts is how objects work
    passed = [a.id for a in call.args if isinstance(a, ast.Name)]
    passed += [k.value.id for k in call.keywords if isinstance(k.value, ast.Name)]
    if len(passed) != len(call.args) + len(call.keywords):
        return False
    return passed == names and bool(names)


def test_no_function_only_forwards_its_arguments() -> None:
    """A function whose whole body calls another with the same arguments is a second name for
    it: callers call the real one."""
    found = [
        f"{relative(path)}:{node.lineno} {node.name}"
        for path in SOURCES
        for node in ast.walk(tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _forwards(node)
    ]
    assert found == []


def test_no_module_is_over_500_lines() -> None:
    """Modules are cut by job; a module that grows past 500 lines is doing more than one."""
    long = {
        relative(path): n
        for path in SOURCES
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _map() -> str:
    """The rows of the module table under README's "How it is built"."""
    text = (ROOT / "README.md").read_text()
    start = text.index("## How it is built")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `"))


def test_the_readme_map_names_every_module() -> None:
    """README's "How it is built" names each module and package of src/closing (the migration
    revisions as their folder) with what it owns."""
    named = set(re.findall(r"`([\w/]+(?:\.py|/))`", _map()))
    wanted = {
        relative(path)
        for path in SOURCES
        if path.name not in ("__init__.py", "__main__.py")
        and "versions" not in path.relative_to(PACKAGE).parts
    }
    wanted |= {
        relative(path.parent) + "/"
        for path in SOURCES
        if path.name == "__init__.py" and path.parent != PACKAGE
    }
    assert sorted(wanted - named) == []


def test_the_readme_map_names_nothing_that_is_not_there() -> None:
    """Every module and folder the map names exists."""
    named = set(re.findall(r"`([\w/]+(?:\.py|/))`", _map()))
    missing = sorted(name for name in named if not (PACKAGE / name).exists())
    assert missing == []
