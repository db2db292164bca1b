"""The layering rule of README's "How it is built", checked on every module's imports (including
those inside functions): the domain imports no database, CLI or Rich; nothing but the entry point
imports the CLI; migrations import no live column types."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "closing"

DOMAIN = {
    "closing.domain.alert_plan",
    "closing.domain.bankfiles",
    "closing.domain.bankfiles.bai2",
    "closing.domain.bankfiles.camt",
    "closing.domain.bankfiles.detect",
    "closing.domain.bankfiles.details",
    "closing.domain.board",
    "closing.domain.calendar",
    "closing.domain.clock",
    "closing.domain.deal",
    "closing.domain.dealfile",
    "closing.domain.dealfile.alert_rules",
    "closing.domain.dealfile.checks",
    "closing.domain.dealfile.fields",
    "closing.domain.dealfile.load",
    "closing.domain.dealfile.located",
    "closing.domain.dealfile.notify_urls",
    "closing.domain.dealfile.schema",
    "closing.domain.dealfile.yaml_reader",
    "closing.domain.errors",
    "closing.domain.events",
    "closing.domain.machine",
    "closing.domain.marking",
    "closing.domain.mark_commands",
    "closing.domain.matching",
    "closing.domain.memo",
    "closing.domain.memo_steps",
    "closing.domain.record",
    "closing.domain.export",
    "closing.domain.money",
    "closing.domain.redaction",
    "closing.domain.timefmt",
    "closing.domain.wire_instructions",
}
SERVICES = {
    "closing.services.operations",
    "closing.services.reading",
    "closing.services.recording",
    "closing.services.wire_import",
    "closing.services.wires",
    "closing.services.alerts.decide",
    "closing.services.alerts.deliver",
    "closing.services.alerts.ledger",
    "closing.services.alerts.daemon",
    "closing.services.alerts.sender_lock",
    "closing.services.alerts.channels",
}
OUTSIDE_THE_DOMAIN = (
    "closing.db",
    "closing.cli",
    "closing.services.operations",
    "closing.services.alerts.",
)
FRAMEWORKS = ("rich", "click", "sqlalchemy", "sqlmodel", "alembic", "apscheduler", "apprise")


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


def under(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(
        prefix if prefix.endswith(".") else prefix + "."
    )


def test_every_domain_module_is_listed() -> None:
    """The lists below name real modules (a rename cannot silently drop a module from the rule)."""
    assert MODULES.keys() >= (DOMAIN | SERVICES)


@pytest.mark.parametrize("module", sorted(DOMAIN))
def test_the_domain_imports_no_database_cli_or_rich(module: str) -> None:
    """Deal, calendar, machine, deadlines, marking, board and the alert planner are plain Python."""
    bad = sorted(
        name
        for name in MODULES[module]
        if any(under(name, prefix) for prefix in (*FRAMEWORKS, "closing.db", "closing.cli"))
        or (
            name in MODULES
            and name not in DOMAIN
            and any(under(name, p) for p in OUTSIDE_THE_DOMAIN)
        )
    )
    assert bad == [], f"{module} imports {bad}"


@pytest.mark.parametrize(
    "module", sorted(SERVICES | {m for m in MODULES if under(m, "closing.db")})
)
def test_services_and_the_database_layer_import_no_cli_and_no_rich(module: str) -> None:
    """What runs behind the commands never prints through Rich or reaches back into the CLI."""
    bad = sorted(
        n
        for n in MODULES[module]
        if under(n, "rich") or under(n, "closing.cli") or under(n, "click")
    )
    assert bad == [], f"{module} imports {bad}"


def test_only_the_entry_point_imports_the_cli() -> None:
    """The CLI package is the top: nothing outside it imports it but `python -m closing`."""
    importers = sorted(
        module
        for module, names in MODULES.items()
        if not under(module, "closing.cli")
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


def test_operations_leave_sql_to_the_database_layer() -> None:
    """Marks, undos and the board reach the tables only through closing.store.queries."""
    names = MODULES["closing.services.operations"]
    assert not any(under(n, "sqlmodel") or under(n, "closing.store.schema") for n in names)
    assert not any(
        n.startswith("sqlalchemy") and n != "sqlalchemy.orm.Session" and n != "sqlalchemy.orm"
        for n in names
    )
