"""`sweep_lease:` settings are checked when the profile loads: the run stops, saying why."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "sweep_lease: {name: Opscheck_Sweep}",
            "*profiles.test.sweep_lease.name: value error, not a kubernetes object name: "
            "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit "
            "(got 'Opscheck_Sweep')",
        ),
        (
            "sweep_lease: {duration_s: 2}",
            "*profiles.test.sweep_lease.duration_s: input should be greater than or equal to 5*",
        ),
        (
            "sweep_lease: {duration_s: 20}",
            "*sweep_lease.duration_s (20) must be above 1.5 times timeouts.connect_s + "
            "timeouts.read_s (15): a renewal*",
        ),
        (
            "sweep_lease: {if_unavailable: ignore}",
            "*profiles.test.sweep_lease.if_unavailable: input should be 'warn' or 'stop'*",
        ),
    ],
)
def test_bad_lease_settings_stop_the_run(
    suite: pytest.Pytester, settings: str, message: str
) -> None:
    suite.makefile(".yaml", rolerabbit=f"profiles:\n  test:\n    {settings}\n")
    result = suite.runpytest("--env", "test")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
