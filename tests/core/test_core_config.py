"""Configuration errors stop the run before any check, with the file, key and expectation."""

from __future__ import annotations

import pytest


def _run_with(suite: pytest.Pytester, yaml_text: str, *args: str) -> pytest.RunResult:
    suite.makefile(".yaml", rolerabbit=yaml_text)
    return suite.runpytest("--env", "test", *args)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "profiles:\n  test:\n    databse: {}\n",
            "*rolerabbit.yaml: profiles.test.databse: unknown key",
        ),
        (
            "profiles:\n  test:\n    timeouts:\n      connect_s: soon\n",
            "*rolerabbit.yaml: profiles.test.timeouts.connect_s: input should be a valid number,"
            " unable to parse string as a number (got 'soon')",
        ),
        (
            "profiles:\n  test:\n    timeouts:\n      connect_s: -1\n",
            "*profiles.test.timeouts.connect_s: input should be greater than 0 (got -1)",
        ),
        (
            "profiles:\n  test:\n    dependencies:\n      stripe: {feature_flag: X}\n",
            "*rolerabbit.yaml: profiles.test.dependencies.stripe.status_url: required value is"
            " missing",
        ),
        ("profiles: [a, b]\n", "*rolerabbit.yaml: profiles: input should be a valid dictionary*"),
        (
            "- just a list\n",
            "*rolerabbit.yaml: expected a mapping with a 'profiles' key at the top level",
        ),
        ("profiles:\n  test: {fix: {verify_timeout_s: 1}\n", "*rolerabbit.yaml: line * expected*"),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "out-of-range",
        "missing-value",
        "wrong-shape",
        "not-a-mapping",
        "bad-yaml",
    ],
)
def test_invalid_configuration_is_a_usage_error(
    suite: pytest.Pytester, yaml_text: str, message: str
):
    result = _run_with(suite, yaml_text)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "collected" not in result.stdout.str(), "no check may run"


def test_unknown_profile_names_the_known_ones(suite: pytest.Pytester):
    result = suite.runpytest("--env", "prod")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*rolerabbit.yaml: unknown profile 'prod' (--env); known: lab, lab-alerting, lab-prometheus, test"
        ]
    )


def test_explicit_config_file_must_exist(suite: pytest.Pytester):
    result = suite.runpytest("--config", "nowhere.yaml", "--env", "test")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nowhere.yaml: profiles file not found (given with --config)"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dry-run"], "*--dry-run only applies with --fix"),
        (["--allow-destructive"], "*--allow-destructive only applies with --fix"),
        (
            ["--fix", "--dry-run", "--allow-destructive"],
            "*--dry-run and --allow-destructive together make no sense*",
        ),
        (["--fail-on", "urgent"], "*argument --fail-on: invalid choice: 'urgent'*"),
    ],
)
def test_contradictory_flags_are_usage_errors(
    suite: pytest.Pytester, args: list[str], message: str
):
    result = suite.runpytest("--env", "test", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_lab_profile_without_a_running_lab_fails_each_check_clearly(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LAB_STATE_DIR", str(suite.path / "no-lab"))
    suite.makepyfile(
        **{
            "checks/test_checks": (
                "from opscheck import check\n"
                '@check("T-201", title="Needs env", section_marker="queue", symptom="s", manual=["m"])\n'
                "def test_env(environment):\n    pass\n"
            )
        }
    )
    result = suite.runpytest()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*[[]T-201[]] cannot reach environment at lab (not usable) — the lab is not running:*"
            "start it with `.venv/bin/lab up`*"
        ]
    )
    assert "Traceback" not in result.stdout.str()
