"""The destructive last resort (QUEUE-R06) on a really corrupted queue: guarded and backed up."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import redis

from checks.queue.settings import QueueSettings
from lab.testing import LabHandle
from remediations.queue_last_resort import LastResort
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
# Keys that changed between being written down and deleted are written down again and
# retried alone, at most queue.last_resort_attempts (5) times: the tests run with the default
# while BullMQ's producer and workers still touch the frozen queue.


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
    fixed = run_checks("-k", "QUEUE-110", "--fix", "--allow-destructive", profile=FAST)
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
        profile=fast(last_resort="flushdb", flushdb_allow_foreign_keys=True),
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


HOT = b"t:q:id"
SETTINGS = QueueSettings(prefix="t", name="q")


class Busy(LastResort):
    """The last resort, with a producer's INCR landing between writing a key down and deleting
    it, `touches` times (a deterministic stand-in for BullMQ racing the backup)."""

    def __init__(self, url: str, s: QueueSettings, backup: Path, touches: int) -> None:
        super().__init__(url, s, backup)
        self.touches, self.rounds = touches, 0

    def _back_up(self, client: redis.Redis, keys: Sequence[bytes]) -> dict[bytes, str]:
        written = super()._back_up(client, keys)
        self.rounds += 1
        if self.touches and HOT in written:
            self.touches -= 1
            client.incr(HOT)
        return written


class Scratch(NamedTuple):
    url: str
    rc: redis.Redis
    keys: list[bytes]  # t:q:0 .. t:q:299, hashes, and the counter t:q:id at 300


@pytest.fixture
def scratch(lab: LabHandle) -> Iterator[Scratch]:
    """A database of the lab's Redis that no lab service uses, with 300 hashes and a counter."""
    url = lab.env["REDIS_URL"].rsplit("/", 1)[0] + "/9"
    rc = redis.Redis.from_url(url, socket_timeout=5)
    rc.flushdb()
    pipe = rc.pipeline()
    for i in range(300):
        pipe.hset(f"t:q:{i}", mapping={"data": f"job {i}"})
    pipe.set(HOT, 300)
    pipe.execute()
    yield Scratch(url, rc, sorted(rc.scan_iter(match="t:q:*")))
    rc.flushdb()
    rc.close()


def lines(backup: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in backup.read_text().splitlines()]


def test_last_resort_rereads_only_the_keys_that_changed_and_deletes_what_it_wrote_down(
    scratch: Scratch, tmp_path: Path
) -> None:
    rc, keys, backup = scratch.rc, scratch.keys, tmp_path / "delete.jsonl"
    busy = Busy(scratch.url, SETTINGS, backup, touches=2)
    assert busy.delete(keys) == f"deleted 301 keys; backup {backup}"
    assert rc.dbsize() == 0
    written = [entry for entry in lines(backup) if "key" in entry]
    # Every cold key was written down once; the counter three times, the last as deleted.
    assert sorted(e["key"] for e in written if e["key"] != "t:q:id") == sorted(
        k.decode() for k in keys if k != HOT
    )
    assert [e["value"] for e in written if e["key"] == "t:q:id"] == ["300", "301", "302"]
    committed = [k for entry in lines(backup) for k in entry.get("committed", [])]
    assert sorted(committed) == sorted(k.decode() for k in keys)
    assert committed[-1] == "t:q:id"
    assert busy.rounds == 4  # two batches (200 + 101 keys), then the counter alone twice


def test_last_resort_keeps_a_key_that_never_holds_still_and_names_it(
    scratch: Scratch, tmp_path: Path
) -> None:
    rc, backup = scratch.rc, tmp_path / "delete.jsonl"
    busy = Busy(scratch.url, SETTINGS, backup, touches=99)
    with pytest.raises(RuntimeError, match=r"1 keys \(e.g. t:q:id\) kept changing during 5 backup"):
        busy.delete(scratch.keys)
    assert rc.get(HOT) == b"305"  # not deleted: nothing written down matched it
    assert rc.dbsize() == 1
    committed = [k for entry in lines(backup) for k in entry.get("committed", [])]
    assert "t:q:id" not in committed and len(committed) == 300


def test_flushdb_writes_down_new_and_changed_keys_before_flushing(
    scratch: Scratch, tmp_path: Path
) -> None:
    rc, backup = scratch.rc, tmp_path / "flush.jsonl"

    class Growing(Busy):
        def _back_up(self, client: redis.Redis, keys: Sequence[bytes]) -> dict[bytes, str]:
            written = super()._back_up(client, keys)
            if self.rounds == 1:
                client.hset("t:q:new", "data", "added after the scan")
            return written

    settings = SETTINGS.model_copy(update={"last_resort": "flushdb"})
    assert Growing(scratch.url, settings, backup, touches=1).flush() == (
        f"flushed 302 keys; backup {backup}"
    )
    assert rc.dbsize() == 0
    entries = lines(backup)
    assert [e["attempt"] for e in entries if "backup" in e] == [1, 2]
    # The second attempt wrote down only the new key and the changed counter.
    second = entries[next(i for i, e in enumerate(entries) if e.get("attempt") == 2) :]
    assert sorted(e["key"] for e in second if "key" in e) == ["t:q:id", "t:q:new"]
    assert entries[-1] == {"committed": "FLUSHDB", "attempt": 2}
