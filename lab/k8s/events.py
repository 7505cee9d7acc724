"""Kubernetes Events: the recorder used by the controllers, and the events.k8s.io view.

The recorder dedupes by (involved object, reason) and bumps ``count`` and
``lastTimestamp`` instead of creating a new Event, like the real event
broadcaster, and keeps at most ``limit`` events so crash loops cannot grow the
store without bound.  Events are stored once, in core/v1 form; the
events.k8s.io/v1 API is a view converted on the way out (and in).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from lab.k8s import meta
from lab.k8s.store import Store

Obj = dict[str, Any]
BUCKET = "events"


def reference(obj: Obj, field_path: str | None = None) -> Obj:
    """An ObjectReference to obj, as events carry in ``involvedObject``."""
    metadata = obj["metadata"]
    ref = {
        "kind": obj.get("kind", ""),
        "namespace": metadata.get("namespace", ""),
        "name": metadata["name"],
        "uid": metadata.get("uid", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "resourceVersion": metadata.get("resourceVersion", ""),
    }
    if not ref["namespace"]:
        del ref["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    def __init__(self, store: Store, limit: int = 2000) -> None:
        self._store = store
        self._limit = limit
        # (involved uid, reason) -> (namespace, event name), oldest first.
        self._index: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()

    def reset(self) -> None:
        self._index.clear()

    def record(
        self,
        involved: Obj,
        reason: str,
        message: str,
        type_: str = "Normal",
        component: str = "kubelet",
        host: str | None = None,
        field_path: str | None = None,
    ) -> None:
        with self._store.lock:
            ref = reference(involved, field_path)
            namespace = ref.get("namespace") or "default"
            key = (ref["uid"] or f"{ref['kind']}/{ref['name']}", reason)
            stamp = meta.rfc3339()
            existing = self._existing(key)
            if existing is not None:
                updated = {
                    **existing,
                    "message": message,
                    "count": int(existing.get("count", 1)) + 1,
                    "lastTimestamp": stamp,
                    "involvedObject": ref,
                }
                self._store.put(BUCKET, updated)
                self._index.move_to_end(key)
                return
            name = f"{ref['name']}.{time.time_ns():x}"
            source: Obj = {"component": component}
            if host:
                source["host"] = host
            self._store.put(
                BUCKET,
                {
                    "kind": "Event",
                    "apiVersion": "v1",
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": ref,
                    "reason": reason,
                    "message": message,
                    "source": source,
                    "firstTimestamp": stamp,
                    "lastTimestamp": stamp,
                    "count": 1,
                    "type": type_,
                    "eventTime": None,
                    "reportingComponent": component,
                    "reportingInstance": host or "",
                },
            )
            self._index[key] = (namespace, name)
            self._trim()

    def _existing(self, key: tuple[str, str]) -> Obj | None:
        location = self._index.get(key)
        if location is None:
            return None
        found = self._store.get(BUCKET, *location)
        if found is None:
            del self._index[key]
        return found

    def _trim(self) -> None:
        while self._store.count(BUCKET) > self._limit and self._index:
            _, (namespace, name) = self._index.popitem(last=False)
            self._store.remove(BUCKET, namespace, name)


def _micro(text: str | None) -> str | None:
    moment = meta.parse_time(text)
    return meta.micro_time(moment) if moment else None


def to_events_v1(event: Obj) -> Obj:
    """A core/v1 Event as an events.k8s.io/v1 Event."""
    count = int(event.get("count") or 1)
    first = event.get("firstTimestamp")
    out: Obj = {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": event["metadata"],
        "eventTime": event.get("eventTime") or _micro(first) or meta.micro_time(),
        "reason": event.get("reason", ""),
        "note": event.get("message", ""),
        "type": event.get("type", "Normal"),
        "regarding": event.get("involvedObject") or {},
        "reportingController": event.get("reportingComponent")
        or (event.get("source") or {}).get("component", ""),
        "reportingInstance": event.get("reportingInstance")
        or (event.get("source") or {}).get("host", ""),
        "action": event.get("action") or event.get("reason", ""),
        "deprecatedSource": event.get("source") or {},
        "deprecatedFirstTimestamp": first,
        "deprecatedLastTimestamp": event.get("lastTimestamp"),
        "deprecatedCount": count,
    }
    if event.get("related"):
        out["related"] = event["related"]
    if count > 1:
        out["series"] = {"count": count, "lastObservedTime": _micro(event.get("lastTimestamp"))}
    return out


def from_events_v1(event: Obj) -> Obj:
    """An events.k8s.io/v1 Event written by a client, stored as core/v1."""
    stamp = event.get("eventTime") or meta.micro_time()
    series = event.get("series") or {}
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": event.get("metadata") or {},
        "involvedObject": event.get("regarding") or {},
        "reason": event.get("reason", ""),
        "message": event.get("note", ""),
        "type": event.get("type", "Normal"),
        "eventTime": stamp,
        "firstTimestamp": event.get("deprecatedFirstTimestamp")
        or meta.rfc3339(meta.parse_time(stamp)),
        "lastTimestamp": event.get("deprecatedLastTimestamp")
        or (
            series.get("lastObservedTime")
            and meta.rfc3339(meta.parse_time(series["lastObservedTime"]))
        )
        or meta.rfc3339(meta.parse_time(stamp)),
        "count": series.get("count") or event.get("deprecatedCount") or 1,
        "source": event.get("deprecatedSource")
        or {"component": event.get("reportingController", "")},
        "reportingComponent": event.get("reportingController", ""),
        "reportingInstance": event.get("reportingInstance", ""),
        "action": event.get("action", ""),
    }
