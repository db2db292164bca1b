"""The terms every command reads back (`closing.domain.terms.read_terms`, plain objects without
pydantic) hold every field of the deal file's models, with the same values: a field added to the
deal file's schema and not to the stored terms fails here, not silently on the board."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from closing.domain.dealfile.load import load_deal_file
from closing.domain.terms_json import read_terms
from closing.domain.timefmt import parse_duration

ROOT = Path(__file__).resolve().parents[1]
DEAL_FILES = sorted((ROOT / "workflows").rglob("*.yaml"))
# Fields the stored terms leave out on purpose: secrets and what is kept in their own tables.
LEFT_OUT = {"wire_instructions", "callback_numbers", "beneficiary"}


def _same(model: Any, stored: Any, where: str) -> None:
    if isinstance(model, BaseModel):
        for name in type(model).model_fields:
            if name in LEFT_OUT:
                continue
            assert hasattr(stored, name), f"the stored terms have no {where}.{name}"
            _same(getattr(model, name), getattr(stored, name), f"{where}.{name}")
    elif isinstance(model, list | tuple):
        assert isinstance(stored, list | tuple), where
        assert len(model) == len(stored), where
        for index, (a, b) in enumerate(zip(model, stored, strict=True)):
            _same(a, b, f"{where}[{index}]")
    elif isinstance(model, dict):
        assert isinstance(stored, dict), where
        assert model.keys() == stored.keys(), where
        for key in model:
            _same(model[key], stored[key], f"{where}.{key}")
    elif isinstance(model, str) and isinstance(stored, timedelta):
        assert parse_duration(model) == stored, where
    elif isinstance(model, SecretStr):
        pytest.fail(f"{where} is a secret and must not be in the stored terms")
    elif isinstance(model, Enum):
        assert model.value == stored or model == stored, where
    else:
        assert model == stored, f"{where}: {model!r} in the deal file, {stored!r} stored"


@pytest.mark.parametrize("path", DEAL_FILES, ids=[p.name for p in DEAL_FILES])
def test_the_stored_terms_hold_every_field_of_the_deal_file(path: Path) -> None:
    terms = load_deal_file(path).terms
    _same(terms, read_terms(terms.model_dump_json()), "terms")


def test_a_missing_field_is_noticed() -> None:
    """The comparison itself fails when the stored terms lack a field."""
    terms = load_deal_file(DEAL_FILES[0]).terms
    stored = read_terms(terms.model_dump_json())
    object.__setattr__(stored, "steps", stored.steps[:-1])
    with pytest.raises(AssertionError):
        _same(terms, stored, "terms")
