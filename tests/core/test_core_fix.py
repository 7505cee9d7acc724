"""--fix: fixed, still failing, fix failed, manual, dry run, destructive guard, kill switch."""

from __future__ import annotations

import pytest
from minisuite import audit, set_state, state


def test_failure_message_has_id_measurement_evidence_and_remediation(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="ok")
    result = suite.runpytest("--env", "test")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "[[]T-101[]] flag is 'broken' (expected 'ok')",
            "  evidence: state file says broken",
            "  remediation T-R01 Reset the flag: sets flag to ok",
            "  apply: pytest -k T-101 --fix   (preview: add --dry-run)",
            "  runbook: Database Connection Errors (critical, respond in 5 min, escalate +15 min)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert state(suite.path)["flag"] == "broken", "nothing may change without --fix"
    assert audit(suite.path) == []


def test_fix_applies_remediation_and_rechecks(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="ok")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*FIXED T-101 Flag is ok (fixed)*", "*1 passed, 1 fixed*"])
    assert state(suite.path)["flag"] == "ok"
    results = [(e["action"], e["result"]) for e in audit(suite.path)]
    assert results == [("set flag=ok in state.json", "applied"), ("", "verified")]
    applied, verified = audit(suite.path)
    assert set(applied) >= {
        "timestamp",
        "run_id",
        "operator",
        "environment",
        "check_id",
        "remediation_id",
        "target",
        "action",
        "params",
        "dry_run",
        "result",
        "evidence_before",
    }
    assert applied["operator"].count("@") == 1 and applied["environment"] == "test"
    assert (applied["check_id"], applied["remediation_id"], applied["target"]) == (
        "T-101",
        "T-R01",
        "state/flag",
    )
    assert applied["params"] == {"flag": "ok"} and applied["dry_run"] is False
    assert applied["evidence_before"] == [
        "flag is 'broken' (expected 'ok')",
        "state file says broken",
    ]
    assert verified["evidence_after"] == "check passes"
    assert applied["run_id"] == verified["run_id"]


def test_fix_twice_is_harmless(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="ok")
    assert suite.runpytest("--env", "test", "--fix").ret == 0
    again = suite.runpytest("--env", "test", "--fix")
    assert again.ret == 0
    again.assert_outcomes(passed=2)
    assert (suite.path / "applied-reset").read_text() == "x", "applied exactly once"


def test_still_failing_when_the_fix_does_not_help(suite: pytest.Pytester):
    suite.makepyfile(**{"checks/test_checks": _pointing_to("NO_EFFECT")})
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*fix: still failing (T-R02): re-checked for 0.5s*", "*ran: [[]file[]] touch nothing*"]
    )
    assert [e["result"] for e in audit(suite.path)] == ["applied", "still failing"]


def test_fix_failed_reports_the_error(suite: pytest.Pytester):
    suite.makepyfile(**{"checks/test_checks": _pointing_to("EXPLODES")})
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*fix: fix failed (T-R03): write state: permission denied: cannot write state*"]
    )
    entry = audit(suite.path)[0]
    assert entry["result"] == "failed" and "permission denied" in entry["detail"]


def test_dry_run_prints_actions_and_changes_nothing(suite: pytest.Pytester):
    set_state(suite.path, flag="broken", queue="ok")
    before = state(suite.path)
    result = suite.runpytest("--env", "test", "--fix", "--dry-run")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*fix: dry run (T-R01): nothing was changed*",
            "*would run: [[]file[]] set flag=ok in state.json*",
        ]
    )
    assert state(suite.path) == before
    assert not (suite.path / "applied-reset").exists()
    entries = audit(suite.path)
    assert [(e["result"], e["dry_run"]) for e in entries] == [("planned", True)]


def test_star_does_not_allow_a_destructive_remediation(suite: pytest.Pytester):
    suite.makepyfile(**{"checks/test_checks": _pointing_to("FLUSH")})
    set_state(suite.path, flag="broken", data=[1, 2, 3])
    result = suite.runpytest("--env", "test", "--fix", "--allow-destructive")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*fix: refused (T-R04): T-R04 is destructive and fix.allowed does not list it by id"
            " ('*' covers only non-destructive remediations)*"
        ]
    )
    assert state(suite.path)["data"] == [1, 2, 3]


def test_destructive_remediation_refuses_without_flag(suite: pytest.Pytester):
    suite.makepyfile(**{"checks/test_checks": _pointing_to("FLUSH")})
    suite.makefile(".yaml", rolerabbit='profiles:\n  test:\n    fix: {allowed: ["*", T-R04]}\n')
    set_state(suite.path, flag="broken", data=[1, 2, 3])
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*apply: pytest -k T-101 --fix --allow-destructive*",
            "*fix: refused (T-R04): T-R04 is destructive; rerun with --allow-destructive*",
        ]
    )
    assert state(suite.path)["data"] == [1, 2, 3]
    assert audit(suite.path)[0]["result"] == "refused"
    allowed = suite.runpytest("--env", "test", "--fix", "--allow-destructive")
    assert allowed.ret == 0
    assert state(suite.path)["data"] == []


def test_manual_only_check_says_no_automatic_fix(suite: pytest.Pytester):
    set_state(suite.path, flag="ok", queue="stuck")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*manual: redis-cli -u $REDIS_URL ping*",
            "*fix: manual: no automatic fix; follow the manual steps*",
        ]
    )


@pytest.mark.parametrize("how", ["variable", "file"])
def test_kill_switch_stops_every_fix(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
):
    set_state(suite.path, flag="broken")
    if how == "variable":
        monkeypatch.setenv("OPSCHECK_FIX_DISABLED", "1")
    else:
        (suite.path / "reports").mkdir()
        (suite.path / "reports" / "FIX_DISABLED").write_text("incident freeze")
    result = suite.runpytest("--env", "test", "--fix")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*fix: refused (T-R01): fixes are disabled by *"])
    assert state(suite.path)["flag"] == "broken"


def test_fix_only_limits_the_remediations(suite: pytest.Pytester):
    set_state(suite.path, flag="broken")
    result = suite.runpytest("--env", "test", "--fix", "--fix-only", "T-R09")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*fix: refused (T-R01): T-R01 is not in --fix-only*"])
    assert state(suite.path)["flag"] == "broken"


def _pointing_to(spec: str) -> str:
    return (
        "from opscheck import check, fail\n"
        f"from conftest import {spec}, read\n"
        '@check("T-101", title="Flag is ok", section_marker="database", symptom="broken",\n'
        f"       remediation={spec})\n"
        "def test_flag(snapshots):\n"
        '    if read()["flag"] != "ok":\n'
        "        fail(f\"flag is {read()['flag']!r}\")\n"
    )


def test_manual_steps_use_the_profiles_names(suite: pytest.Pytester):
    suite.makepyfile(
        **{
            "checks/test_checks": (
                "from opscheck import check, fail\n"
                '@check("T-701", title="Pods", section_marker="deployment", symptom="s",\n'
                '       manual=["kubectl get pods -n {namespace} -l {api_selector}",\n'
                '               "curl {queues_url}  # {unknown} stays as written"])\n'
                "def test_pods():\n"
                '    fail("2 pods failing")\n'
            )
        }
    )
    suite.makefile(
        ".yaml",
        rolerabbit="profiles:\n  test:\n    kubernetes: {namespace: shop-staging}\n"
        "    api: {base_url: 'https://api.staging.example/'}\n",
    )
    result = suite.runpytest("--env", "test")
    result.stdout.fnmatch_lines(
        [
            "*manual: kubectl get pods -n shop-staging -l app=rolerabbit-api*",
            "*manual: curl https://api.staging.example/api/admin/queues  # {unknown} stays as*",
        ]
    )
    assert "rolerabbit-production" not in result.stdout.str()


def test_manual_steps_keep_their_own_braces(suite: pytest.Pytester):
    suite.makepyfile(
        **{
            "checks/test_checks": (
                "from opscheck import check, fail\n"
                '@check("T-702", title="Patch", section_marker="deployment", symptom="s",\n'
                "       manual=['kubectl patch deployment x -n {namespace} -p \\'{\"spec\": {\"paused\": false}}\\''])\n"
                "def test_patch():\n"
                '    fail("paused")\n'
            )
        }
    )
    suite.makefile(".yaml", rolerabbit="profiles:\n  test:\n    kubernetes: {namespace: ns1}\n")
    result = suite.runpytest("--env", "test")
    result.stdout.fnmatch_lines(
        ["""*manual: kubectl patch deployment x -n ns1 -p '{"spec": {"paused": false}}'*"""]
    )


def test_lab_hints_only_for_the_lab_profile(suite: pytest.Pytester):
    suite.makepyfile(
        **{
            "checks/test_checks": (
                "from opscheck import DependencyUnavailable, check\n"
                '@check("T-703", title="Db", section_marker="database", symptom="s", manual=["m"])\n'
                "def test_db():\n"
                '    raise DependencyUnavailable("PostgreSQL", "db.internal:5432", "connection refused",\n'
                '        "is the server up? for the lab try: .venv/bin/lab status")\n'
            )
        }
    )
    result = suite.runpytest("--env", "test")
    result.stdout.fnmatch_lines(
        ["*cannot reach PostgreSQL at db.internal:5432 (connection refused) — is the server up?"]
    )
    assert "lab status" not in result.stdout.str()
