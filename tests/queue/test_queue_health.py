"""The whole queue section on the healthy lab, with Redis down, and PING's failure classes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from lab.testing import LabHandle
from tests.catalogue import check_ids
from tests.queue.queue_support import FAST, Inject, Run, applied, client, fast, use_lab_env

ALL = check_ids("queue")


def test_queue_section_passes_on_the_healthy_lab(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    started = time.monotonic()
    result = run_checks("-m", "queue", profile=FAST)
    assert result.statuses() == {i: "passed" for i in ALL}, result.stdout
    # The growth window (2 s) overlapped collection: the sweep does not pay it twice.
    assert time.monotonic() - started < 15


def test_queue_redis_down_fails_every_check_with_one_cause_and_fixes_nothing(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    fault("redis-down")
    started = time.monotonic()
    result = run_checks("-m", "queue", "--fix", profile=FAST)
    elapsed = time.monotonic() - started
    statuses = result.statuses()
    assert set(statuses) == set(ALL)
    assert all(s in ("failed", "error") for s in statuses.values()), statuses
    assert statuses["QUEUE-101"] == "failed"
    out = result.stdout
    port = lab.env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
    assert (
        f"[QUEUE-101] Redis at 127.0.0.1:{port}/0 does not answer PING: connection refused" in out
    )
    for check_id in ALL[1:]:
        assert f"[{check_id}] cannot reach Redis at 127.0.0.1:{port}/0 (connection refused" in out
    assert "Traceback" not in out
    assert applied(result) == []
    assert elapsed < 20


@pytest.fixture
def acl_user(lab: LabHandle) -> Iterator[str]:
    """A Redis ACL user with a known password (for the authentication-failure case)."""
    rc = client(lab)
    rc.acl_setuser("opscheck-auth", enabled=True, passwords=["+right-password"], commands=["+ping"])
    yield "opscheck-auth"
    rc.acl_deluser("opscheck-auth")
    rc.close()


def test_queue_ping_reports_authentication_failure(
    run_checks: Run, lab: LabHandle, acl_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = lab.env["REDIS_URL"].replace("redis://", f"redis://{acl_user}:wrong-password@")
    use_lab_env(lab, monkeypatch, REDIS_URL=url)
    result = run_checks("-k", "QUEUE-101", profile=FAST)
    result.outcome.assert_outcomes(failed=1)
    assert "does not answer PING: authentication failed" in result.stdout
    assert "wrong-password" not in result.stdout


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: PING must time out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def test_queue_ping_reports_a_timeout_within_the_bound(
    run_checks: Run, lab: LabHandle, silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch, REDIS_URL=f"redis://127.0.0.1:{silent_port}/0")
    started = time.monotonic()
    result = run_checks("-k", "QUEUE-101", profile=fast(ping_timeout_s=1))
    result.outcome.assert_outcomes(failed=1)
    assert f"127.0.0.1:{silent_port}/0 does not answer PING: timed out within" in result.stdout
    assert time.monotonic() - started < 10
