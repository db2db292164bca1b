"""The README documents what the CLI offers; the docs and deal files cite nothing outside the
repository."""

from __future__ import annotations

import re

import click

from closing.cli import cli
from closing.domain.errors import ExitCode
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text()


def command_names(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        names.append(f"{prefix}{name}")
        if isinstance(command, click.Group):
            names += command_names(command, f"{prefix}{name} ")
    return names


def test_every_command_is_in_the_readme() -> None:
    """Each `closing ...` command, subcommands included, appears in the README."""
    missing = [name for name in command_names(cli) if f"closing {name}" not in README]
    assert missing == []


def test_every_exit_code_is_in_the_readme() -> None:
    """The exit-code table lists every code the CLI can return."""
    codes = [v for k, v in vars(ExitCode).items() if k.isupper()]
    assert all(f"\n| {code} |" in README for code in codes)


def test_the_readme_install_and_test_commands_are_what_ci_runs() -> None:
    """.ci/run runs the README's test command."""
    test_command = (
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' "
        "&& .venv/bin/pytest -n auto\n"
    )
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_the_docs_and_deal_files_cite_no_file_outside_the_repository() -> None:
    """The seed deal file cites the agreement as filed (company, date, exhibit), and no deal file
    or doc names a path of the machine it was written on (`shared/seed/...`)."""
    texts = [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "workflows").rglob("*.y*ml"),
    ]
    outside = [
        f"{path.relative_to(ROOT)}: {found}"
        for path in texts
        for found in re.findall(r"\bshared/\S+", path.read_text())
    ]
    assert outside == []
    seed = (ROOT / "workflows" / "neotherapeutics-2002-06-07.yaml").read_text()
    assert seed.startswith(
        "# Securities Purchase Agreement made as of June 7, 2002 between NeoTherapeutics, Inc. "
        "and the\n# purchasers of Schedule 1, as filed by NeoTherapeutics, Inc. as Exhibit 10.1.\n"
    )
