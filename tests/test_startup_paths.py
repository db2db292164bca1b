"""What the fastest commands leave out: `closing --help` lists every command without the deal's
stored terms (their dataclasses cost more than the rest of the help), and the forms a paper of the
closing set comes in are one list, the deal file's and `attach --form`'s alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

from closing.domain.dealfile.documents import DocumentSpec
from closing.domain.mark_commands import FORMS


def test_help_does_not_import_the_terms(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom closing.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('closing.domain.terms', 'closing.domain.deal', 'closing.services')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert "attach" in done.stdout, done.stderr
    assert done.stderr == "[]\n"


def test_attach_forms_are_the_deal_files() -> None:
    assert get_args(DocumentSpec.model_fields["form"].annotation) == FORMS


def test_verify_names_the_record_of_facts_as_the_domain_does() -> None:
    from closing.cli import seals
    from closing.domain import facts

    assert seals.FACTS == facts.FACTS
