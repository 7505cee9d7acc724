"""A check that cannot judge is inconclusive: its own status everywhere, never a pass."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

BLIND = """
from opscheck import NoData, check, inconclusive, verdict

@check("T-301", title="Pod usage", section_marker="performance", symptom="s", manual=["m"])
def test_usage():
    inconclusive("no PodMetrics: metrics.k8s.io answered 404 (is metrics-server installed?)",
                 ["GET /apis/metrics.k8s.io/v1beta1/namespaces/x/pods -> 404"])

@check("T-302", title="Rate", section_marker="errors", symptom="s", manual=["m"])
def test_rate():
    verdict(NoData("no http_requests_total in the scrape"))

@check("T-303", title="Fine", section_marker="queue", symptom="s", manual=["m"])
def test_fine():
    pass
"""


@pytest.fixture
def blind(suite: pytest.Pytester) -> pytest.Pytester:
    suite.makepyfile(**{"checks/test_checks": BLIND})
    return suite


def _summary(where: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((where / "reports" / "summary.json").read_text())
    return data


def test_inconclusive_fails_the_run_by_default_with_its_own_status(blind: pytest.Pytester):
    result = blind.runpytest("--env", "test")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*INCONCLUSIVE (2): could not judge*",
            "*T-301 Pod usage*",
            "*T-301? inconclusive: no PodMetrics: metrics.k8s.io answered 404 (is metrics-server"
            " installed?)*",
            "*T-302? inconclusive: no http_requests_total in the scrape*",
        ]
    )
    assert "healthy" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*1 passed, 2 inconclusive in*"])
    statuses = {c["check_id"]: c["status"] for c in _summary(blind.path)["checks"]}  # type: ignore[union-attr]
    assert statuses == {"T-301": "inconclusive", "T-302": "inconclusive", "T-303": "passed"}


def test_junit_and_allure_give_inconclusive_its_own_type(blind: pytest.Pytester):
    blind.runpytest("--env", "test")
    tree = ET.parse(blind.path / "reports" / "junit.xml")
    failures = {case.get("name"): case.find("failure") for case in tree.iter("testcase")}
    assert failures["test_fine"] is None
    for name in ("test_usage", "test_rate"):
        failure = failures[name]
        assert failure is not None
        assert failure.get("type") == "inconclusive"
    results = [
        json.loads(p.read_text())
        for p in (blind.path / "reports" / "allure-results").glob("*-result.json")
    ]
    allure = {r["fullName"].rsplit("#", 1)[1]: r["status"] for r in results}
    assert allure == {"test_usage": "broken", "test_rate": "broken", "test_fine": "passed"}


def test_warn_reports_inconclusive_without_failing_the_run(blind: pytest.Pytester):
    result = blind.runpytest("--env", "test", "--inconclusive=warn")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*INCONCLUSIVE (2): could not judge*"])
    statuses = [c["status"] for c in _summary(blind.path)["checks"]]  # type: ignore[union-attr]
    assert sorted(statuses) == ["inconclusive", "inconclusive", "passed"]


def test_the_profile_can_choose_warn(blind: pytest.Pytester):
    blind.makefile(".yaml", rolerabbit="profiles:\n  test:\n    inconclusive: warn\n")
    assert blind.runpytest("--env", "test").ret == pytest.ExitCode.OK
    assert blind.runpytest("--env", "test", "--inconclusive=fail").ret == 1


def test_a_bad_inconclusive_setting_is_a_usage_error(blind: pytest.Pytester):
    blind.makefile(".yaml", rolerabbit="profiles:\n  test:\n    inconclusive: maybe\n")
    result = blind.runpytest("--env", "test")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*inconclusive*"])


GOES_BLIND = """
from opscheck import Action, Plan, RemediationSpec, check, fail, inconclusive
import pytest
from conftest import read, write

DROP = RemediationSpec("T-R31", "drop_source", "Drop", "removes what the check reads")

@pytest.fixture
def drop_source():
    return lambda finding: Plan("state/flag", [Action("file", "remove flag", lambda: write(flag=None))])

@check("T-301", title="Flag", section_marker="queue", symptom="s", remediation=DROP)
def test_flag(snapshots):
    value = read()["flag"]
    if value is None:
        inconclusive("no flag in state.json", ["state.json has keys: flag"])
    if value != "ok":
        fail("flag is broken")
"""


def test_a_fix_after_which_the_check_cannot_judge_is_not_fixed(suite: pytest.Pytester):
    suite.makepyfile(**{"checks/test_checks": GOES_BLIND})
    suite.makefile(
        ".yaml",
        rolerabbit="profiles:\n  test:\n    fix: {verify_timeout_s: 0.3, verify_interval_s: 0.1}\n",
    )
    (suite.path / "state.json").write_text(json.dumps({"flag": "broken"}))
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*INCONCLUSIVE (1): could not judge*",
            "*T-301? inconclusive: no flag in state.json*",
            "*evidence: state.json has keys: flag*",
            "*fix: still failing (T-R31)*",
        ]
    )
    assert "FIXED" not in result.stdout.str()
