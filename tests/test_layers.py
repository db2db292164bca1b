"""The layering rule of README's "How it is built", read from the tree: a module's layer is the
folder it lives in (`closing/domain/`, `store/`, `services/`, `views/`, `cli/`, `web/`), so no
module can be left out of the rule. Every import counts, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "closing"
LAYERS = ("domain", "store", "services", "views", "cli", "web")
# What each layer may import of the package (besides itself).
ALLOWED = {
    "domain": set(),
    "store": {"domain"},
    "services": {"domain", "store"},
    "views": {"domain"},
    "cli": {"domain", "services", "views", "web"},  # `closing serve` starts the web server
    "web": {"domain", "services", "views"},
}
FRAMEWORKS = (
    "rich",
    "click",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "sqlite3",
    "psycopg",
    "starlette",
    "sse_starlette",
    "uvicorn",
    "apscheduler",
    "apprise",
    "jinja2",
    "weasyprint",
)
# The only modules that may import the database toolkits.
DATABASE_TOOLKITS = ("sqlalchemy", "sqlmodel", "alembic")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_every_module_lives_in_a_layer() -> None:
    """Nothing sits beside the layers but the package's own entry points."""
    loose = sorted(m for m in MODULES if layer_of(m) is None)
    assert loose == ["closing", "closing.__main__"]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m)))
def test_a_layer_imports_only_the_layers_below_it(module: str) -> None:
    """domain imports nothing of the others; store imports domain; services domain and store;
    views domain; cli and web services, views and domain."""
    layer = layer_of(module)
    assert layer is not None
    allowed = ALLOWED[layer] | {layer}
    bad = sorted(
        name
        for name in MODULES[module]
        if under(name, "closing") and name != "closing" and layer_of(name) not in allowed
    )
    assert bad == [], f"{module} ({layer}) imports {bad}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m) == "domain"))
def test_the_domain_imports_no_framework(module: str) -> None:
    """The domain is plain Python: no terminal, command line, database, web or scheduler."""
    bad = sorted(n for n in MODULES[module] if any(under(n, framework) for framework in FRAMEWORKS))
    assert bad == [], f"{module} imports {bad}"


def test_only_the_store_imports_the_database_toolkits() -> None:
    """SQLAlchemy, SQLModel and Alembic declare the tables and migrate them, in the store only."""
    offenders = sorted(
        module
        for module, names in MODULES.items()
        if layer_of(module) != "store"
        and any(under(n, toolkit) for n in names for toolkit in DATABASE_TOOLKITS)
    )
    assert offenders == []


def test_only_the_entry_point_imports_the_cli() -> None:
    """The CLI package is the top: nothing outside it imports it but `python -m closing`."""
    importers = sorted(
        module
        for module, names in MODULES.items()
        if layer_of(module) != "cli"
        and module != "closing.__main__"
        and any(under(name, "closing.cli") for name in names)
    )
    assert importers == []


def test_migrations_pin_their_column_types() -> None:
    """A migration describes the schema as it was: it imports nothing from the live package."""
    offenders = sorted(
        module
        for module, names in MODULES.items()
        if under(module, "closing.store.migrations.versions")
        and any(under(name, "closing") for name in names)
    )
    assert offenders == []
