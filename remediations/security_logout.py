"""SEC-R04: force logout, by removing login sessions from Redis.

The runbook's `redis-cli FLUSHDB` logs every user out, but it also empties whatever else
shares the database (here, BullMQ's queue). So by default the sessions are removed by name:
SCAN MATCH the session pattern, then UNLINK, `batch_size` keys at a time, counted first
(the count is audited, never the keys' values). When the finding names the accounts it takes
for compromised and the profile says how their keys are named (`account_pattern`), only
those accounts' sessions end. FLUSHDB is planned only when the profile asks for it and
declares the database dedicated to sessions, and only runs with --allow-destructive.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import redis

from checks.security.finding_data import Exposure
from checks.security.response_settings import ResponseSettings
from fixtures.redis_client import describe_target
from opscheck import Action, ActionResult, Finding, Plan, Planner
from opscheck.environment import Environment

NEVER = "bull:"  # BullMQ's keys: never a session, whatever a pattern says


def session_patterns(exposure: Exposure, s: ResponseSettings) -> list[str]:
    """Which sessions end: the named accounts' when the profile can tell them apart,
    else every session."""
    if exposure.user_ids and s.account_pattern is not None:
        return [s.account_pattern.replace("{user_id}", u) for u in exposure.user_ids]
    return [s.session_pattern]


def scan_keys(client: redis.Redis, pattern: str, batch: int) -> Iterator[list[str]]:
    """The keys matching `pattern`, a SCAN page at a time (BullMQ's left out)."""
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor, match=pattern, count=batch)
        page = [str(k) for k in keys if not str(k).startswith(NEVER)]
        if page:
            yield page
        if cursor == 0:
            return


def count_sessions(client: redis.Redis, patterns: Sequence[str], batch: int) -> dict[str, int]:
    return {p: sum(len(page) for page in scan_keys(client, p, batch)) for p in patterns}


def unlink_sessions(client: redis.Redis, patterns: Sequence[str], batch: int) -> ActionResult:
    items: list[dict[str, object]] = []
    total = 0
    for pattern in patterns:
        removed = 0
        for page in scan_keys(client, pattern, batch):
            for start in range(0, len(page), batch):
                removed += int(client.unlink(*page[start : start + batch]))
        items.append({"pattern": pattern, "removed": removed})
        total += removed
    return ActionResult(f"removed {total} session keys ({', '.join(patterns)})", items)


def flush_refusal(check: str, s: ResponseSettings, allowed: bool) -> str | None:
    """Why FLUSHDB may not run (None: it may)."""
    if not s.dedicated_db:
        return (
            "FLUSHDB refused: security_response.dedicated_db is false, so the database may "
            "hold more than sessions (BullMQ's queue, caches), and FLUSHDB would empty it. "
            "Set flush: false to remove the session keys by pattern instead"
        )
    if not allowed:
        return (
            "FLUSHDB ends every session at once and is destructive: rerun with "
            f"pytest -k {check} --fix --allow-destructive"
        )
    return None


@pytest.fixture
def force_logout(
    redis_client: redis.Redis, environment: Environment, pytestconfig: pytest.Config
) -> Planner:
    s = environment.profile.section(ResponseSettings)
    target = f"redis/{describe_target(environment.secret('REDIS_URL'))}"
    allowed = bool(pytestconfig.getoption("opscheck_destructive"))

    def plan(finding: Finding) -> Plan:
        exposure = finding.data_as(Exposure)
        if s.flush:
            if refusal := flush_refusal(exposure.check, s, allowed):
                return Plan(target, refusal=refusal)
            size = int(redis_client.dbsize())

            def flush() -> ActionResult:
                redis_client.flushdb()
                return ActionResult(f"FLUSHDB: {size} keys removed", [{"keys": size}])

            action = Action("redis", "FLUSHDB", flush, {"keys": size})
            return Plan(target, [action], claims=[f"{target}:sessions"])
        patterns = session_patterns(exposure, s)
        counted = count_sessions(redis_client, patterns, s.batch_size)
        total = sum(counted.values())
        if total == 0:
            return Plan(
                target,
                manual=[f"redis-cli -u $REDIS_URL --scan --pattern '{p}'" for p in patterns],
            )
        whose = (
            f"the sessions of {', '.join(exposure.accounts or exposure.user_ids)}"
            if patterns != [s.session_pattern]
            else "every session"
        )
        command = (
            f"SCAN 0 MATCH {' | '.join(patterns)} COUNT {s.batch_size} + UNLINK in batches of "
            f"{s.batch_size}   # {total} keys now: {whose}"
        )
        action = Action(
            "redis",
            command,
            lambda: unlink_sessions(redis_client, patterns, s.batch_size),
            {"patterns": patterns, "counted": counted},
        )
        return Plan(target, [action], claims=[f"{target}:sessions:{'|'.join(patterns)}"])

    return plan
