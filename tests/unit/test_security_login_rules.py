"""The login checks' pure rules (SEC-111..114) on a small data file
(tests/data/security/logins.yaml), and their settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import checks
from checks.security import logins as rules
from checks.security.login_settings import LoginSettings
from opscheck import Finding, NoData
from opscheck.settings import profile_model

DATA = Path(__file__).resolve().parents[1] / "data" / "security" / "logins.yaml"
S = LoginSettings()


@pytest.fixture(scope="module")
def cases() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DATA.read_text())
    return data


def found(result: Finding | NoData | None) -> Finding:
    assert isinstance(result, Finding), result
    return result


# -- SEC-111: failed-login spike -----------------------------------------------------------


def test_usual_failures_are_no_spike(cases: dict[str, Any]) -> None:
    quiet = cases["quiet"]
    args = quiet["windows"], quiet["accounts"], quiet["addresses"]
    assert rules.failed_login_spike(*args, S) is None
    assert rules.login_counts(quiet["windows"], S) == (
        "12 failed of 400 logins in auth_logs in the last 15.0min; baseline: median 10 failed "
        "per 15.0min over 11 earlier windows (the 4 before: 9, 11, 14, 10; the same window "
        "1..7 days ago: 8, 12, 10, 9, 13, 11, 10)"
    )


def test_a_spike_names_its_floor_baseline_and_the_busiest(cases: dict[str, Any]) -> None:
    attack = cases["attack"]
    spike = found(
        rules.failed_login_spike(attack["windows"], attack["accounts"], attack["addresses"], S)
    )
    # The median ignores one earlier window of the same attack (60): the baseline is 10.
    assert spike.summary == (
        "140 failed logins in the last 15.0min (at least 20 and more than 3 x the baseline 10)"
    )
    assert spike.evidence[0].startswith("baseline: median 10 failed per 15.0min over 11")
    assert spike.evidence[1] == (
        "address 203.0.113.66: 101 failed for 2 accounts, first seen 2026-11-30 09:20:00Z, "
        "last seen 2026-11-30 09:34:58Z"
    )
    assert (
        "account user42@example.test (user 42): 90 failed from 1 address (203.0.113.66), "
        "first seen 2026-11-30 09:20:00Z, last seen 2026-11-30 09:34:58Z"
    ) in spike.evidence
    assert "account leaked9@mail.example (no such user): 1 failed from 1 address" in " ".join(
        spike.evidence
    )


def test_more_than_the_baseline_but_under_the_floor_passes(cases: dict[str, Any]) -> None:
    attack = cases["attack"]
    args = attack["windows"], attack["accounts"], attack["addresses"]
    assert rules.failed_login_spike(*args, S.model_copy(update={"spike_min_failures": 141})) is None
    # and over the floor but within the multiple of the baseline
    assert rules.failed_login_spike(*args, S.model_copy(update={"spike_ratio": 14.0})) is None


def test_without_history_the_floor_alone_judges_and_says_so(cases: dict[str, Any]) -> None:
    young = cases["young"]
    spike = found(
        rules.failed_login_spike(young["windows"], young["accounts"], young["addresses"], S)
    )
    assert spike.summary == "25 failed logins in the last 15.0min (at least 20, with no baseline)"
    assert spike.evidence[0] == (
        "no baseline: auth_logs has no rows as old as the 15.0min before this window, so the "
        "floor of 20 alone judges (security_logins.spike_min_failures)"
    )


def test_windows_older_than_the_table_are_not_counted(cases: dict[str, Any]) -> None:
    windows = dict(cases["quiet"]["windows"], oldest_age_s=3000.0)  # covers 2 windows before
    line = rules.login_counts(windows, S)
    assert "median 10 failed per 15.0min over 2 earlier windows (the 2 before: 9, 11)" in line
    assert line.endswith("; 9 older than the table's first row not counted")


def test_nothing_to_judge_is_inconclusive(cases: dict[str, Any]) -> None:
    empty = cases["empty"]
    results = [
        rules.failed_login_spike(empty["windows"], [], [], S),
        rules.brute_force(empty["windows"], [], S),
        rules.credential_stuffing(empty["windows"], [], S),
        rules.login_after_burst(empty["windows"], [], S),
    ]
    assert all(isinstance(r, NoData) for r in results)
    assert results[0] == NoData(
        "no logins in auth_logs in the last 15.0min, and the table is empty: nothing to judge; "
        "is the API writing its login log there (security_logins.table)?"
    )


def test_an_empty_window_with_history_passes(cases: dict[str, Any]) -> None:
    windows = dict(cases["quiet"]["windows"])
    windows["counts"] = [{"kind": "recent", "ago_s": 0.0, "logins": 0, "failed": 0}]
    assert rules.failed_login_spike(windows, [], [], S) is None
    assert rules.brute_force(windows, [], S) is None


# -- SEC-112..114 ---------------------------------------------------------------------------


def test_brute_force_names_each_account_over_the_threshold(cases: dict[str, Any]) -> None:
    attack = cases["attack"]
    hit = found(rules.brute_force(attack["windows"], attack["accounts"], S))
    assert hit.summary == (
        "2 accounts with 10 or more failed logins in the last 15.0min "
        "(most: user42@example.test, 90)"
    )
    assert hit.evidence[1].startswith(
        "account user43@example.test (user 43): 12 failed from 2 addresses "
        "(203.0.113.66, 203.0.113.67)"
    )
    assert rules.brute_force(cases["quiet"]["windows"], cases["quiet"]["accounts"], S) is None


def test_a_read_cut_at_its_row_limit_says_at_least(cases: dict[str, Any]) -> None:
    attack = cases["attack"]
    hit = found(rules.brute_force(attack["windows"], attack["accounts"][:2], S))
    assert hit.summary.startswith("at least 2 accounts with 10 or more failed logins")


def test_credential_stuffing_names_the_address_and_accounts(cases: dict[str, Any]) -> None:
    attack = cases["attack"]
    hit = found(rules.credential_stuffing(attack["windows"], attack["addresses"], S))
    assert hit.summary == (
        "1 address failing logins for 10 or more accounts in the last 15.0min "
        "(most: 203.0.113.50, 30 accounts)"
    )
    assert hit.evidence == [
        "address 203.0.113.50: 30 failed for 30 accounts (among them leaked9@mail.example, "
        "user1@example.test, user2@example.test), first seen 2026-11-30 09:25:00Z, "
        "last seen 2026-11-30 09:34:59Z"
    ]


def test_login_after_burst_says_whose_account(cases: dict[str, Any]) -> None:
    attack = cases["attack"]
    hit = found(rules.login_after_burst(attack["windows"], attack["bursts"], S))
    # Two successes of one account from one address are one finding line (the latest);
    # 4 failures are under the threshold of 5.
    assert hit.summary == (
        "2 logins succeeded in the last 15.0min right after 5 or more failures from the same "
        "address (most: 203.0.113.9, user5@example.test after 6, the same account)"
    )
    assert hit.evidence == [
        "address 203.0.113.9: user5@example.test (user 5) logged in at 2026-11-30 09:34:30Z "
        "after 6 failed logins from that address in the 5.0min before (6 of them for the same "
        "account; first seen 2026-11-30 09:33:00Z, last seen 2026-11-30 09:34:08Z)",
        "address 203.0.113.10: user6@example.test (user 6) logged in at 2026-11-30 09:34:20Z "
        "after 5 failed logins from that address in the 5.0min before (all for other "
        "accounts: user8@example.test, user9@example.test; first seen 2026-11-30 09:33:10Z, "
        "last seen 2026-11-30 09:34:19Z)",
    ]


def test_no_finding_shows_a_password(cases: dict[str, Any]) -> None:
    attack = cases["attack"]
    text = str(
        [
            rules.failed_login_spike(attack["windows"], attack["accounts"], attack["addresses"], S),
            rules.brute_force(attack["windows"], attack["accounts"], S),
            rules.credential_stuffing(attack["windows"], attack["addresses"], S),
            rules.login_after_burst(attack["windows"], attack["bursts"], S),
        ]
    )
    assert "password" not in text.lower() and "secret" not in text.lower()


# -- settings --------------------------------------------------------------------------------


def test_login_settings_live_under_their_own_profile_key() -> None:
    model = profile_model(checks.sections())
    profile = model.model_validate({"security_logins": {"table": "audit.logins", "window_s": 60}})
    settings = profile.section(LoginSettings)
    assert (settings.table, settings.window_s) == ("audit.logins", 60)
    assert profile.placeholders()["auth_logs_table"] == "audit.logins"
    assert profile.placeholders()["auth_logs_window"] == "60 seconds"


@pytest.mark.parametrize(
    "bad",
    [
        {"table": 'auth_logs"; DROP TABLE users; --'},
        {"created_column": "a.b"},
        {"spike_ratio": 0.5},
        {"window_s": 0},
        {"brute_force": 3},
    ],
)
def test_login_settings_refuse_what_cannot_work(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LoginSettings.model_validate(bad)
