"""The destructive last resort (QUEUE-R06) on a really corrupted queue: guarded and backed up."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from lab.testing import LabHandle
from tests.queue.queue_support import (
    FAST,
    QUEUE,
    Inject,
    Run,
    applied,
    assert_status,
    fast,
    use_lab_env,
    wait_until,
)

# Keys BullMQ itself still touches on a frozen queue: lock renewals, stall checks, the
# producer's job-id counter (its add script INCRs the id before failing on WRONGTYPE), the
# marker, which a waiting worker pops (BZPOPMIN, not a script) before its fetch fails, and
# the events stream, which a script may append to before it fails the same way (seen once
# in a full run: one entry more between the test's dump and the backup's).
VOLATILE = (":lock", ":stalled-check", ":id", ":marker", ":events")
# Backup passes that saw keys change are retried (queue.last_resort_attempts, 5 by default).
# On a loaded machine a pass over the ~1,000 keys takes long enough for BullMQ's lock
# renewals to land in every one of 5; the tests allow more, and still need one clean pass.
ATTEMPTS = 20
PATIENT = fast(last_resort_attempts=ATTEMPTS)


def raw(lab: LabHandle) -> redis.Redis:
    return redis.Redis.from_url(lab.env["REDIS_URL"], socket_timeout=5)


def queue_dump(rc: redis.Redis, pattern: str = f"{QUEUE}:*") -> dict[str, bytes]:
    keys = [k for k in rc.scan_iter(match=pattern, count=1000)]
    pipe = rc.pipeline(transaction=False)
    for key in keys:
        pipe.dump(key)
    return {k.decode(): v for k, v in zip(keys, pipe.execute(), strict=True) if v is not None}


def stable(dump: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in dump.items() if not k.endswith(VOLATILE)}


def backup_records(reports: Path) -> dict[str, dict[str, Any]]:
    (path,) = (reports / "queue-backups").glob("*.jsonl")
    records: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if "key" in entry:
            records[entry["key"]] = entry  # a re-read after a WATCH abort supersedes
    return records


def corrupt(lab: LabHandle, fault: Inject) -> None:
    rc = raw(lab)
    jobs = lambda: sum(1 for k in queue_dump(rc) if k.rsplit(":", 1)[1].isdigit())  # noqa: E731
    wait_until(lambda: jobs() > 10, 20, "more than 10 jobs in the queue")
    fault("queue-keys-corrupted")
    # The queue freezes: BullMQ's scripts fail with WRONGTYPE, so nothing is added; jobs
    # that were in flight still finish (a failing script keeps its earlier writes).
    previous = [stable(queue_dump(rc))]

    def frozen() -> bool:
        time.sleep(1.0)
        now = stable(queue_dump(rc))
        same, previous[0] = now == previous[0], now
        return same

    wait_until(frozen, 20, "a frozen queue (unchanged for 1 s)")
    rc.close()


def test_queue_corrupted_keys_refused_without_the_flag_and_dry_run_changes_nothing(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    healthy = run_checks("-k", "QUEUE-110", profile=FAST)
    assert_status(healthy, {"QUEUE-110": "passed"})
    corrupt(lab, fault)
    rc = raw(lab)
    before = stable(queue_dump(rc))
    refused = run_checks("-k", "QUEUE-110", "--fix", profile=FAST)
    assert_status(refused, {"QUEUE-110": "failed"})
    out = refused.stdout
    assert "[QUEUE-110] 1 keys of queue deployment have the wrong type (expected 0)" in out
    assert "bull:deployment:meta is a string (expected hash)" in out
    assert "QUEUE-R06 is destructive; rerun with --allow-destructive" in out
    dry = run_checks("-k", "QUEUE-110", "--fix", "--dry-run", profile=FAST)
    assert f"would run: [redis] DEL {QUEUE}:*" in dry.stdout
    assert applied(refused) == applied(dry) == []
    assert stable(queue_dump(rc)) == before
    assert not (refused.reports / "queue-backups").exists()
    rc.close()


def test_queue_delete_keys_backs_up_every_deleted_job_then_is_harmless_twice(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    corrupt(lab, fault)
    rc = raw(lab)
    before = queue_dump(rc)
    jobs = {k for k in before if k.rsplit(":", 1)[1].isdigit()}
    assert len(jobs) > 5
    fixed = run_checks("-k", "QUEUE-110", "--fix", "--allow-destructive", profile=PATIENT)
    assert_status(fixed, {"QUEUE-110": "fixed"})
    assert [a["remediation_id"] for a in applied(fixed)] == ["QUEUE-R06"]
    records = backup_records(fixed.reports)
    for key, payload in stable(before).items():
        # Deleted without a record would be data lost: each is in the backup as it was.
        assert key in records, key
        assert base64.b64decode(records[key]["dump"]) == payload, key
    for key in jobs:
        assert records[key]["type"] == "hash" and "data" in records[key]["value"]
    assert records[f"{QUEUE}:events"]["type"] == "stream"  # backed up too, as it then was
    assert records[f"{QUEUE}:meta"]["value"] == "corrupted"
    wait_until(lambda: rc.type(f"{QUEUE}:meta") == b"hash", 15, "BullMQ to recreate its meta")

    again = run_checks("-k", "QUEUE-110", "--fix", "--allow-destructive", profile=FAST)
    assert_status(again, {"QUEUE-110": "passed"})
    assert applied(again) == []
    rc.close()


def test_queue_flushdb_refuses_foreign_keys_and_backs_up_everything_when_allowed(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    rc = raw(lab)
    rc.set("opscheck-test:foreign", "someone else's data")
    corrupt(lab, fault)
    refused = run_checks(
        "-k", "QUEUE-110", "--fix", "--allow-destructive", profile=fast(last_resort="flushdb")
    )
    assert_status(refused, {"QUEUE-110": "failed"})
    assert "FLUSHDB refused: the database also holds" in refused.stdout
    assert rc.get("opscheck-test:foreign") == b"someone else's data"
    assert applied(refused) == []

    before = stable(queue_dump(rc))  # the frozen queue; other keys may expire meanwhile
    flushed = run_checks(
        "-k",
        "QUEUE-110",
        "--fix",
        "--allow-destructive",
        profile=fast(
            last_resort="flushdb", flushdb_allow_foreign_keys=True, last_resort_attempts=ATTEMPTS
        ),
    )
    assert_status(flushed, {"QUEUE-110": "fixed"})
    records = backup_records(flushed.reports)
    assert records["opscheck-test:foreign"]["value"] == "someone else's data"
    assert rc.get("opscheck-test:foreign") is None
    for key, payload in before.items():
        assert key in records, key
        assert base64.b64decode(records[key]["dump"]) == payload, key
    assert rc.type(f"{QUEUE}:meta") != b"string"
    rc.close()
