"""The `suite` fixture: a pytester directory holding the miniature suite."""

from __future__ import annotations

import pytest
from minisuite import CHECKS, CONFTEST, set_state


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester dir with the miniature suite, a profiles file and a healthy state.

    Run state (sweep locks, fix ledgers) goes to the test's own directory.
    """
    monkeypatch.setenv("OPSCHECK_STATE_DIR", str(pytester.path / "state"))
    pytester.makepyfile(conftest=CONFTEST, **{"checks/test_checks": CHECKS})
    pytester.makefile(
        ".yaml",
        rolerabbit="profiles:\n  test:\n    fix:\n"
        "      verify_timeout_s: 0.5\n      verify_interval_s: 0.1\n",
    )
    set_state(pytester.path, flag="ok", queue="ok", left="ok", right="ok", data=[1, 2, 3])
    return pytester
