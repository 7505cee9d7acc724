"""The runbook's last resorts, DEL <prefix>:<queue>:* or FLUSHDB, with a backup first.

Used only by QUEUE-R06 (remediations/queue.py), a destructive remediation that needs
--allow-destructive. Every key is written to the reports dir before it is deleted.

After the deletion the queue has no keys until BullMQ writes its next job, and a check of a
queue that is not there is inconclusive: the plan waits (bounded) for the keys to return
before the re-check, rather than re-checking a queue that does not exist yet.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import redis

from checks.queue import OWN_KEYS
from checks.queue.settings import QueueSettings
from fixtures.redis_client import new_client
from opscheck import Action, Plan
from opscheck.waiting import wait_until

# Both scripts take the keys with, as ARGV, the SHA-1 of each key's DUMP as written down.
# DELETE_IF_UNCHANGED deletes each key still so and returns {deleted, changed}; a key gone
# meanwhile is in neither. FLUSH_IF_UNCHANGED flushes only if every key still present is
# as written down and no other key exists (DBSIZE), else returns {0, changed}. It reads
# every key in one call: at queue.last_resort_max_keys (200,000) that holds Redis for a
# moment, which a last resort that flushes the database anyway may do.
DELETE_IF_UNCHANGED = """
local deleted, changed = {}, {}
for i, key in ipairs(KEYS) do
  local dump = redis.call('DUMP', key)
  if dump and redis.sha1hex(dump) == ARGV[i] then
    redis.call('DEL', key)
    deleted[#deleted + 1] = key
  elseif dump then
    changed[#changed + 1] = key
  end
end
return {deleted, changed}
"""
FLUSH_IF_UNCHANGED = """
local present, changed = 0, {}
for i, key in ipairs(KEYS) do
  local dump = redis.call('DUMP', key)
  if dump then
    present = present + 1
    if redis.sha1hex(dump) ~= ARGV[i] then changed[#changed + 1] = key end
  end
end
if #changed == 0 and redis.call('DBSIZE') == present then
  redis.call('FLUSHDB')
  return {1, changed}
end
return {0, changed}
"""
BATCH = 200


class Record(NamedTuple):
    key: bytes
    sha1: str  # of the key's DUMP, which the delete compares against
    line: dict[str, Any]  # the backup file's line


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


class LastResort:
    """DEL <prefix>:<queue>:* or FLUSHDB, with every deleted key written down first.

    Each key is recorded as its DUMP (restorable with RESTORE) plus a readable copy by type
    (HGETALL, LRANGE, ZRANGE, SMEMBERS, XRANGE, GET) in a JSON-lines file, which is on disk
    before anything is deleted. A script then deletes each key only if its DUMP is still the
    one written down (by SHA-1), so the file holds exactly what was deleted. Keys that
    changed meanwhile are written down again and retried, alone: a queue whose producers
    and workers still touch a few keys (the job-id counter, the events stream, the marker)
    converges in a few rounds, where a whole batch retried on any change may never commit.
    A TTL-only change (a lock renewal) is not a change of what the backup holds. FLUSHDB
    runs in a script that first checks that every key is as written down and that no other
    key exists, so no key is flushed without a record.
    """

    def __init__(
        self,
        url: str,
        s: QueueSettings,
        backup: Path,
        timeout_s: float = 10.0,
        recreate_timeout_s: float = 60.0,
    ) -> None:
        self.url, self.s, self.backup, self.timeout_s = url, s, backup, timeout_s
        self.recreate_timeout_s = recreate_timeout_s
        self.pattern = f"{s.prefix}:{s.name}:*"

    def wait_recreated(self) -> None:
        """Until any of the queue's own keys exists again (BullMQ's next job writes them)."""
        keys = [f"{self.s.prefix}:{self.s.name}:{suffix}" for suffix in OWN_KEYS]
        with self.client() as client:

            def absent() -> str | None:
                if client.exists(*keys):
                    return None
                return (
                    "BullMQ recreates them with the queue's next job; until then the queue "
                    "checks cannot judge it"
                )

            wait_until(
                absent,
                self.recreate_timeout_s,
                f"no key of {self.pattern} reappeared",
                interval_s=0.2,
            )

    def _then_wait(self, target: str, action: Action) -> Plan:
        what = f"waiting up to {self.recreate_timeout_s:g}s for BullMQ to recreate {self.pattern}"
        return Plan(target, [action], wait=self.wait_recreated, wait_description=what)

    def client(self) -> redis.Redis:
        return new_client(self.url, connect_timeout=self.timeout_s, read_timeout=self.timeout_s)

    def plan(self, target: str) -> Plan:
        with self.client() as client:
            keys = self._scan(
                client, self.pattern if self.s.last_resort == "delete-queue-keys" else "*"
            )
        if len(keys) > self.s.last_resort_max_keys:
            return Plan(
                target,
                refusal=f"more than {self.s.last_resort_max_keys} keys to back up "
                "(queue.last_resort_max_keys); do it by hand after a Redis snapshot (BGSAVE)",
            )
        if self.s.last_resort == "delete-queue-keys":
            if not keys:
                return Plan(
                    target,
                    manual=[
                        f"redis-cli -u $REDIS_URL --scan --pattern '{self.pattern}'  # no queue "
                        "key left to delete; BullMQ recreates them on the next job",
                    ],
                )
            command = (
                f"DEL {self.pattern}   # {len(keys)} keys, each batch written to "
                f"{self.backup} before it is deleted"
            )
            return self._then_wait(
                target, Action("redis", command, lambda: self.delete(keys), {"keys": len(keys)})
            )
        if refusal := self._foreign(keys):
            return Plan(target, refusal=refusal)
        command = f"FLUSHDB   # {len(keys)} keys, all written to {self.backup} first"
        return self._then_wait(target, Action("redis", command, self.flush, {"keys": len(keys)}))

    def _foreign(self, keys: Sequence[bytes]) -> str | None:
        own = f"{self.s.prefix}:{self.s.name}:".encode()
        foreign = [_text(k) for k in keys if not k.startswith(own)]
        if not foreign or self.s.flushdb_allow_foreign_keys:
            return None
        return (
            f"FLUSHDB refused: the database also holds {len(foreign)} keys outside "
            f"{self.pattern} (e.g. {', '.join(sorted(foreign)[:3])}); set "
            "queue.flushdb_allow_foreign_keys: true to flush them too, or use "
            "queue.last_resort: delete-queue-keys"
        )

    def _scan(self, client: redis.Redis, pattern: str) -> list[bytes]:
        keys: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            keys.append(key)
            if len(keys) > self.s.last_resort_max_keys:
                break
        return keys

    def records(self, client: redis.Redis, keys: Sequence[bytes]) -> list[Record]:
        """Each key as it is now, with the SHA-1 of its DUMP; keys already gone are left out."""
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
            pipe.pttl(key)
            pipe.dump(key)
        raw = pipe.execute()
        kinds = [_text(raw[3 * i]) for i in range(len(keys))]
        readers = {
            "string": lambda p, k: p.get(k),
            "hash": lambda p, k: p.hgetall(k),
            "list": lambda p, k: p.lrange(k, 0, -1),
            "set": lambda p, k: p.smembers(k),
            "zset": lambda p, k: p.zrange(k, 0, -1, withscores=True),
            "stream": lambda p, k: p.xrange(k),
        }
        pipe = client.pipeline(transaction=False)
        for key, kind in zip(keys, kinds, strict=True):
            readers.get(kind, lambda p, k: p.exists(k))(pipe, key)
        values = pipe.execute()
        return [
            Record(
                key,
                hashlib.sha1(raw[3 * i + 2]).hexdigest(),
                {
                    "key": _text(key),
                    "type": kind,
                    "ttl_ms": raw[3 * i + 1],
                    "dump": base64.b64encode(raw[3 * i + 2]).decode(),
                    "value": readable(values[i]),
                },
            )
            for i, (key, kind) in enumerate(zip(keys, kinds, strict=True))
            if kind != "none" and raw[3 * i + 2] is not None
        ]

    def _write(self, lines: Iterable[dict[str, Any]]) -> None:
        self.backup.parent.mkdir(parents=True, exist_ok=True)
        with self.backup.open("a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _back_up(self, client: redis.Redis, keys: Sequence[bytes]) -> dict[bytes, str]:
        """Writes each key down (on disk before this returns); its DUMP's SHA-1 by key."""
        records = self.records(client, keys)
        self._write(r.line for r in records)
        return {r.key: r.sha1 for r in records}

    def delete(self, keys: Sequence[bytes]) -> str:
        self._write([{"backup": "DEL", "pattern": self.pattern, "keys": len(keys)}])
        deleted = 0
        with self.client() as client:
            for start in range(0, len(keys), BATCH):
                deleted += self._delete_batch(client, keys[start : start + BATCH])
        return f"deleted {deleted} keys; backup {self.backup}"

    def _delete_batch(self, client: redis.Redis, batch: Sequence[bytes]) -> int:
        """Deletes each key only if it still is what was written down; rereads the others."""
        pending, deleted = list(batch), 0
        for _ in range(self.s.last_resort_attempts):
            written = self._back_up(client, pending)
            if not written:
                return deleted
            gone, changed = client.eval(
                DELETE_IF_UNCHANGED, len(written), *written, *written.values()
            )
            self._write([{"committed": [_text(k) for k in gone]}])
            deleted += len(gone)
            if not changed:
                return deleted
            pending = changed  # changed since it was written down: write it down again
        raise RuntimeError(
            f"{len(pending)} keys (e.g. {_text(pending[0])}) kept changing during "
            f"{self.s.last_resort_attempts} backup attempts; stop the producers and workers, "
            "then retry"
        )

    def flush(self) -> str:
        written: dict[bytes, str] = {}
        with self.client() as client:
            for attempt in range(1, self.s.last_resort_attempts + 1):
                keys = self._scan(client, "*")
                if refusal := self._foreign(keys):
                    raise RuntimeError(refusal)
                self._write([{"backup": "FLUSHDB", "attempt": attempt, "keys": len(keys)}])
                # Only keys new or changed since the last attempt are read again.
                fresh = self._back_up(client, [k for k in keys if k not in written])
                known = {**written, **fresh}  # keys gone since are left out below
                written = {k: known[k] for k in keys if k in known}
                flushed, changed = client.eval(
                    FLUSH_IF_UNCHANGED, len(written), *written, *written.values()
                )
                if flushed == 1:
                    self._write([{"committed": "FLUSHDB", "attempt": attempt}])
                    return f"flushed {len(written)} keys; backup {self.backup}"
                for key in changed:
                    written.pop(key, None)
        raise RuntimeError(
            f"the database kept changing during {self.s.last_resort_attempts} backup "
            "attempts; stop the producers and workers, then retry"
        )


def readable(value: Any) -> Any:
    """A JSON-friendly copy of a Redis reply (bytes decoded, scores kept)."""
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, dict):
        return {_text(k) if isinstance(k, bytes) else k: readable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        items = [readable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set) else items
    return value
