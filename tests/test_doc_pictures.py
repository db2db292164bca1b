"""The pictures in docs/ are made from the README's own scenario (`docs/make_pictures.py`), and
say so: the picture maker's command list is the README's console blocks, each PNG carries the
scenario it was made from and it is today's, and the README names each picture's moment. Fast:
nothing here renders (run the script to make the pictures again)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from types import ModuleType

import pytest

from tests.helpers import ROOT

README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
REMAKE = "the README's scenario changed: run .venv/bin/python docs/make_pictures.py"


def load_picture_maker() -> ModuleType:
    """docs/make_pictures.py, a script rather than a package module, loaded from its path."""
    spec = importlib.util.spec_from_file_location("make_pictures", DOCS / "make_pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


pictures = load_picture_maker()
PLAN = pictures.plan(README)
COMMANDS = [step for step in PLAN if isinstance(step, pictures.Command)]
PICTURES = [step for step in PLAN if isinstance(step, pictures.Picture)]


def section(heading: str, end: str = "\n## ") -> str:
    body = README.split(f"\n## {heading}\n", 1)[1]
    return body.split(end, 1)[0]


def dollar_lines(text: str) -> list[str]:
    """Every `$ ` line of the console blocks of `text`, without the `$ `, in order."""
    blocks = re.findall(r"```console\n(.*?)```", text, re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def test_the_picture_maker_runs_the_readme_quickstart_as_written() -> None:
    """Each `$ closing` line of the quickstart's console blocks, in order and word for word, at
    the CLOSING_NOW and by the CLOSING_OPERATOR the README exported before it; then the sharing
    block at the moment its `share --list` says the links were made; then the memo; nothing else
    but Stonestreet's own link and its server."""
    expected: list[tuple[str, str, str]] = []
    env: dict[str, str] = {}
    for line in dollar_lines(section("Quickstart", end="\nMore commands")):
        words = shlex.split(line, comments=True)
        if words[0] == "export":
            env.update(word.partition("=")[::2] for word in words[1:])
        else:
            expected.append((env["CLOSING_OPERATOR"], env["CLOSING_NOW"], line))
    sharing = section("The board in a browser")
    assert "made 2002-06-07 15:30 PDT by alice" in sharing
    shares = dollar_lines(sharing)
    assert shares[0] == "closing share team" and shares[-1] == "closing serve"
    at_1530 = max(i for i, (_, now, _) in enumerate(expected) if now == "2002-06-07T15:30-07:00")
    expected[at_1530 + 1 : at_1530 + 1] = [("alice", "2002-06-07T15:30-07:00", s) for s in shares]
    monday = expected[-1][1]
    assert monday == "2002-06-10T10:20-07:00"  # the quickstart's last mark, and the memo's moment
    memo = dollar_lines(section("The closing memo and the record"))[0]
    assert memo == "closing report -o memo.pdf"
    expected.append(("alice", monday, memo))
    expected += [("alice", monday, "closing share stonestreet"), ("alice", monday, "closing serve")]
    binder = [f"closing attach {line}" for line in pictures.CLOSING_FILES]
    binder.append("closing binder -o closing-set.pdf")
    expected += [("alice", monday, line) for line in binder]
    example = list(pictures.EXAMPLE_MEMO)
    assert example[0] == "closing init workflows/examples/registered-direct-60-steps.yaml"
    assert example[-1].startswith("closing report") and example[-1].endswith("memo-60-steps.pdf")
    expected += [("alice", pictures.EXAMPLE_NOW, line) for line in example]

    assert [(c.operator, c.now, c.line) for c in COMMANDS] == expected
    ours = [c.line for c in COMMANDS if c.readme_line == 0]
    assert ours == ["closing share stonestreet", "closing serve", *binder, *example]
    for command in COMMANDS:
        if command.readme_line:  # its output is checked against the README's lines under it
            assert README.splitlines()[command.readme_line - 1] == f"$ {command.line}"
    assert [(p.name, p.source, p.now) for p in PICTURES] == [
        ("web-team.png", "team", "2002-06-07T15:30-07:00"),
        ("memo-page-1.png", "memo.pdf", monday),
        ("memo-page-2.png", "memo.pdf", monday),
        ("web-purchaser.png", "stonestreet", monday),
        ("binder-page-1.png", "closing-set.pdf", monday),
        ("binder-page-2.png", "closing-set.pdf", monday),
        ("memo-60-steps-page-1.png", "memo-60-steps.pdf", pictures.EXAMPLE_NOW),
        ("memo-60-steps-page-2.png", "memo-60-steps.pdf", pictures.EXAMPLE_NOW),
    ]


def test_each_picture_in_docs_was_made_from_the_readme_scenario() -> None:
    """Every PNG in docs/ is one the picture maker makes, and the scenario it carries (each step
    before it: operator, CLOSING_NOW, command) is what the README's console blocks give today."""
    assert sorted(path.name for path in DOCS.glob("*.png")) == sorted(p.name for p in PICTURES)
    for picture in PICTURES:
        carried = pictures.scenario_in((DOCS / picture.name).read_bytes())
        assert carried is not None, f"{picture.name} carries no scenario: {REMAKE}"
        assert carried == pictures.scenario_of(PLAN, picture.name), f"{picture.name}: {REMAKE}"


def test_a_picture_from_another_scenario_is_caught() -> None:
    """A picture made before a change to the README (here: BNC's wire at 15:30, as the old
    `docs/web-team.png` showed) differs from the scenario of today's README."""
    changed = README.replace(
        "closing mark-wired bnc --at 17:10", "closing mark-wired bnc --at 15:30"
    ).replace("CLOSING_NOW=2002-06-07T07:45-07:00", "CLOSING_NOW=2002-06-07T07:30-07:00")
    assert changed != README
    old = pictures.plan(changed)
    for name in ("memo-page-1.png", "web-purchaser.png"):
        assert pictures.scenario_of(old, name) != pictures.scenario_of(PLAN, name)
    stamped = pictures.with_scenario((DOCS / "web-team.png").read_bytes(), [["a", "b", "c"]])
    assert pictures.scenario_in(stamped) == [["a", "b", "c"]]


def test_the_readme_shows_each_picture_and_names_its_moment() -> None:
    """The README refers to each picture in docs/ and, in the same paragraph or the one under
    it, names the moment it shows (`15:30 on Friday, June 7, 2002`)."""
    paragraphs = [" ".join(p.split()) for p in README.split("\n\n")]
    for picture in PICTURES:
        where = [i for i, p in enumerate(paragraphs) if f"(docs/{picture.name})" in p]
        assert len(where) == 1, picture.name
        around = " ".join(paragraphs[where[0] : where[0] + 2])
        assert pictures.moment_words(picture.now) in around, picture.name
    # docs/tests/ holds what a browser test drew from its own scenario (the README says which)
    assert [p for p in re.findall(r"\(docs/([^)]+)\)", README) if not p.startswith("tests/")] == [
        "memo-page-1.png",
        "memo-page-2.png",
        "memo-60-steps-page-1.png",
        "memo-60-steps-page-2.png",
        "binder-page-1.png",
        "binder-page-2.png",
        "web-team.png",
        "web-purchaser.png",
    ]


@pytest.mark.parametrize(
    ("printed", "agrees"),
    [
        ("Link #1: the team\nhttp://127.0.0.1:8080/b/" + "x" * 43 + "\n", True),
        ("Link #1: the team\nhttp://127.0.0.1:8080/b/" + "x" * 42 + "\n", False),
        ("Link #1: the deal team\nhttp://127.0.0.1:8080/b/" + "x" * 43 + "\n", False),
    ],
)
def test_the_replay_must_print_what_the_readme_shows(printed: str, agrees: bool) -> None:
    """What a command prints is compared with the README's lines under it, a link's token (which
    is random) aside; any other difference stops the picture maker (exit 1)."""
    command = pictures.Command(
        "closing share team",
        "2002-06-07T15:30-07:00",
        "alice",
        (
            "Link #1: the team",
            "http://127.0.0.1:8080/b/AtKmzj_iuAJrr16albACcV7X4NIgfyU2h_bEeZn419E",
        ),
        590,
    )
    if agrees:
        pictures.check(command, printed)
    else:
        with pytest.raises(pictures.Disagreement):
            pictures.check(command, printed)
