"""Unit tests of the containment remediations' rules (SEC-R03, SEC-R04) and their settings
(`security_response:`): which keys rotate and who restarts, which sessions end, when
FLUSHDB is refused, and SEC-114 passing once the suspected accounts hold no session."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from checks.security import logins
from checks.security.finding_data import Exposure
from checks.security.login_settings import LoginSettings
from checks.security.response_settings import ResponseSettings
from opscheck import Finding
from remediations.security_database import url_credentials, with_password
from remediations.security_logout import flush_refusal, session_patterns
from remediations.security_rotate import secret_users, why_rotate
from remediations.security_rotation import new_value

DATA = Path(__file__).parents[1] / "data" / "security" / "logins.yaml"
S = ResponseSettings()


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"template": {"spec": spec}}}


def test_the_defaults_rotate_the_jwt_key_on_sec_101_and_end_sessions_by_account() -> None:
    assert S.keys_for("SEC-101") == {"rolerabbit-secrets": ["JWT_SECRET"]}
    assert S.keys_for("SEC-114") == {}
    assert (S.session_pattern, S.account_pattern) == ("sess:*", "sess:{user_id}:*")
    assert (S.batch_size, S.dedicated_db, S.flush) == (500, False, False)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rotate": {"sec-101": {"s": ["K"]}}}, "'sec-101' is not a check id, e.g. SEC-101"),
        ({"rotate": {"SEC-101": {"a": ["K"], "b": ["K"]}}}, "SEC-101: one Secret per check"),
        ({"rotate": {"SEC-101": {"s": []}}}, "SEC-101: no keys to rotate in s; remove it"),
        ({"rotate": {"SEC-101": {"s": ["a b"]}}}, "SEC-101: s has keys no Secret can hold"),
        ({"session_pattern": "*"}, "'*' matches BullMQ's keys (bull:*)"),
        ({"session_pattern": "bull:sess:*"}, "'bull:sess:*' matches BullMQ's keys"),
        ({"account_pattern": "sess:*"}, "account_pattern must hold {user_id}"),
        (
            {"account_pattern": "user:{user_id}:*"},
            "account_pattern 'user:{user_id}:*' names keys session_pattern 'sess:*' does not match",
        ),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_settings_are_refused_at_load(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ResponseSettings(**settings)
    assert message in str(raised.value)


def test_only_the_named_accounts_sessions_end_when_the_pattern_tells_them_apart() -> None:
    exposure = Exposure("SEC-114", user_ids=("7", "42"), accounts=("a@x", "b@x"))
    assert session_patterns(exposure, S) == ["sess:7:*", "sess:42:*"]
    assert session_patterns(Exposure("SEC-114"), S) == ["sess:*"]
    everyone = ResponseSettings(account_pattern=None)
    assert session_patterns(exposure, everyone) == ["sess:*"]


def test_flushdb_needs_a_dedicated_database_and_the_flag() -> None:
    shared = ResponseSettings(flush=True)
    assert "dedicated_db is false" in str(flush_refusal("SEC-114", shared, allowed=True))
    dedicated = ResponseSettings(flush=True, dedicated_db=True)
    assert flush_refusal("SEC-114", dedicated, allowed=False) == (
        "FLUSHDB ends every session at once and is destructive: rerun with "
        "pytest -k SEC-114 --fix --allow-destructive"
    )
    assert flush_refusal("SEC-114", dedicated, allowed=True) is None


def test_a_new_value_keeps_the_old_ones_length_and_alphabet() -> None:
    hexed = new_value("0123456789abcdef" * 4, 32)
    assert len(hexed) == 64 and set(hexed) <= set(string.hexdigits)
    urlsafe = new_value("lab-jwt-signing-key-not-a-secret!", 32)
    assert len(urlsafe) == 33 and set(urlsafe) <= set(string.ascii_letters + string.digits + "-_")
    assert len(new_value("short", 32)) == 32
    assert new_value("x" * 40, 32) != new_value("x" * 40, 32)


def test_the_deployments_using_a_secret_are_found_by_env_envfrom_and_volumes() -> None:
    deployments = [
        deployment("api", containers=[{"envFrom": [{"secretRef": {"name": "s"}}]}]),
        deployment(
            "one-key",
            containers=[
                {"env": [{"name": "J", "valueFrom": {"secretKeyRef": {"name": "s", "key": "K"}}}]}
            ],
        ),
        deployment(
            "other-key",
            containers=[
                {"env": [{"name": "D", "valueFrom": {"secretKeyRef": {"name": "s", "key": "D"}}}]}
            ],
        ),
        deployment("mounted", volumes=[{"name": "v", "secret": {"secretName": "s"}}]),
        deployment("init", initContainers=[{"envFrom": [{"secretRef": {"name": "s"}}]}]),
        deployment("unrelated", containers=[{"envFrom": [{"secretRef": {"name": "t"}}]}]),
    ]
    assert secret_users(deployments, "s", ["K"]) == ["api", "init", "mounted", "one-key"]


def test_the_plan_says_why_it_rotates() -> None:
    assert why_rotate(Exposure("SEC-101", stale=("rolerabbit-secrets",))) == (
        "SEC-101: past the rotation age"
    )
    assert "a@x likely compromised" in why_rotate(Exposure("SEC-114", accounts=("a@x",)))


def test_a_login_after_a_burst_is_contained_once_its_account_has_no_session() -> None:
    attack = yaml.safe_load(DATA.read_text())["attack"]
    s = LoginSettings()
    hit = logins.login_after_burst(attack["windows"], attack["bursts"], s)
    assert isinstance(hit, Finding)
    pair = ("user5@example.test", "user6@example.test")  # user12: 4 failures, below 5
    assert hit.data == Exposure("SEC-114", user_ids=("5", "6"), accounts=pair)
    asked: list[list[str]] = []

    def ended(ids: Any) -> dict[str, int]:
        asked.append(list(ids))
        return dict.fromkeys(ids, 0)

    assert logins.login_after_burst(attack["windows"], attack["bursts"], s, ended) is None
    assert asked == [["5", "6"]]
    one_left = logins.login_after_burst(
        attack["windows"], attack["bursts"], s, lambda ids: {"5": 0, "6": 2}
    )
    assert isinstance(one_left, Finding) and one_left.summary.startswith("1 login succeeded")
    assert one_left.data == Exposure("SEC-114", user_ids=("6",), accounts=("user6@example.test",))
    unknown = logins.login_after_burst(attack["windows"], attack["bursts"], s, lambda ids: None)
    assert isinstance(unknown, Finding) and unknown.data == hit.data


def test_the_database_url_keeps_everything_but_its_password() -> None:
    url = "postgresql://rolerabbit_app:old%2Fpw@db.internal:5432/rolerabbit?sslmode=require"
    assert url_credentials(url) == ("rolerabbit_app", "old/pw")
    assert with_password(url, "n3w/p@ss") == (
        "postgresql://rolerabbit_app:n3w%2Fp%40ss@db.internal:5432/rolerabbit?sslmode=require"
    )
    assert url_credentials("postgresql://db.internal/rolerabbit") is None
    assert url_credentials("postgresql://app@db.internal/rolerabbit") is None
    with pytest.raises(ValidationError, match="database_key"):
        ResponseSettings(database_key="not a key")
