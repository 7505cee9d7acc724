"""The alerting and metrics_push settings are validated like every other: a bad one stops
the run before any check, with the key and what was expected."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "alerting: {alertmanager_url: 'alertmanager:9093'}",
            "*profiles.test.alerting.alertmanager_url: value error, 'alertmanager:9093' is not "
            "an http(s) url, e.g. http://alertmanager:9093*",
        ),
        (
            "metrics_push: {pushgateway_url: 'http://u:hunter22@pgw:9091'}",
            "*profiles.test.metrics_push.pushgateway_url: value error, give the url without a "
            "password (the profile holds no secrets)*",
        ),
        (
            "alerting: {alertmanager_url: 'http://am:9093', timeout_s: 0}",
            "*profiles.test.alerting.timeout_s: input should be greater than 0 (got 0)",
        ),
        ("alerting: {alertmanger_url: 'http://am:9093'}", "*alerting.alertmanger_url: unknown key"),
    ],
    ids=["not-a-url", "password-in-url", "zero-timeout", "misspelt-key"],
)
def test_invalid_alerting_settings_are_usage_errors(
    suite: pytest.Pytester, body: str, message: str
) -> None:
    suite.makefile(".yaml", rolerabbit=f"profiles:\n  test:\n    {body}\n")
    result = suite.runpytest("--env", "test")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    # (The outer session's reports would mask it too: compare without printing it.)
    assert "hunter22" not in result.stderr.str() + result.stdout.str()
    assert "collected" not in result.stdout.str(), "no check may run"
