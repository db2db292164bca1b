"""The test run's own output: a dependency's deprecation warning is filtered where it comes from
(pyproject.toml's `filterwarnings`), and only there."""

from __future__ import annotations

import warnings

IMGHDR = "'imghdr' is deprecated and slated for removal in Python 3.13"


def shown(module: str) -> list[str]:
    """The warnings the test run shows of the imghdr deprecation raised from `module`."""
    with warnings.catch_warnings(record=True) as caught:  # keeps the run's filters
        warnings.warn_explicit(
            IMGHDR, DeprecationWarning, f"{module.replace('.', '/')}.py", 48, module, {}
        )
    return [str(warning.message) for warning in caught]


def test_apprise_s_imghdr_deprecation_is_not_shown() -> None:
    """apprise imports imghdr for PGPy at import time: nothing we can change, so not shown."""
    assert shown("apprise.utils.pgp") == []


def test_the_same_deprecation_from_anywhere_else_is_shown() -> None:
    """The filter names apprise's module: the same warning from our code still shows."""
    assert shown("closing.services.alerts.channels") == [IMGHDR]
    assert shown("apprise.plugins.email") == [IMGHDR]
