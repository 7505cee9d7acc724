"""``?watch=1``: a stream of newline-delimited JSON watch events.

Semantics follow the real API server closely enough for client-go's reflector
and the Python client's ``Watch``:

* no ``resourceVersion`` (or ``"0"``): synthetic ADDED events for what exists,
  then changes;
* ``resourceVersion=N``: changes after N, or 410 Gone (reason Expired) when N
  is older than the retained history;
* ``sendInitialEvents=true``: the initial ADDED events followed by a BOOKMARK
  annotated ``k8s.io/initial-events-end: "true"`` (the watch-list protocol
  recent kubectl uses);
* selectors apply to both old and new object, so an object that stops
  matching is reported DELETED and one that starts matching ADDED;
* ``allowWatchBookmarks`` adds periodic BOOKMARKs, ``timeoutSeconds`` ends it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from lab.k8s import errors, views
from lab.k8s.cluster import Cluster
from lab.k8s.listing import ListQuery
from lab.k8s.resources import ResourceType
from lab.k8s.routing import Request
from lab.k8s.store import Change

Obj = dict[str, Any]
DEFAULT_TIMEOUT = 1800.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> bytes:
    metadata: Obj = {"resourceVersion": str(rv)}
    if initial_end:
        metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
    return _line("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": metadata})


def _translate(
    rt: ResourceType, change: Change, namespace: str | None, matches: Callable[[Obj], bool]
) -> tuple[str, Obj] | None:
    if change.bucket != rt.bucket:
        return None
    if namespace is not None and change.obj["metadata"].get("namespace") != namespace:
        return None
    new = views.show(rt, change.obj)
    old = views.show(rt, change.old) if change.old is not None else None
    if change.type == "ADDED":
        return ("ADDED", new) if matches(new) else None
    if change.type == "DELETED":
        return ("DELETED", new) if old is not None and matches(old) else None
    was, now = old is not None and matches(old), matches(new)
    if was and now:
        return ("MODIFIED", new)
    if now:
        return ("ADDED", new)
    if was:
        return ("DELETED", new)
    return None


def open_watch(
    cluster: Cluster, rt: ResourceType, namespace: str | None, request: Request
) -> Iterator[bytes]:
    """Validate the request now (errors become HTTP errors) and return the event stream."""
    if rt.virtual:
        raise errors.method_not_allowed("watch")
    params = request.params
    matches = ListQuery.from_params(params).predicate(rt.plural)
    send_initial = params.get("sendInitialEvents") == "true"
    bookmarks = params.get("allowWatchBookmarks") in ("true", "1")
    try:
        timeout = float(params.get("timeoutSeconds") or DEFAULT_TIMEOUT)
        requested = params.get("resourceVersion") or "0"
        start = int(requested)
    except ValueError as exc:
        raise errors.bad_request(f"invalid watch parameters: {exc}") from exc
    store = cluster.store
    with store.lock:
        initial: list[Obj] = []
        if send_initial or start == 0:
            initial = [o for o in views.current_items(cluster, rt, namespace) if matches(o)]
            start = store.resource_version
        elif start < store.compacted_rv:
            raise errors.gone(f"too old resource version: {start} ({store.compacted_rv + 1})")
    return _stream(
        cluster, rt, namespace, matches, initial, start, send_initial, bookmarks, timeout, request
    )


def _stream(
    cluster: Cluster,
    rt: ResourceType,
    namespace: str | None,
    matches: Callable[[Obj], bool],
    initial: list[Obj],
    start: int,
    send_initial: bool,
    bookmarks: bool,
    timeout: float,
    request: Request,
) -> Iterator[bytes]:
    store = cluster.store
    for obj in initial:
        yield _line("ADDED", obj)
    if send_initial:
        yield _bookmark(rt, start, initial_end=True)
    last = start
    deadline = time.monotonic() + timeout
    interval = cluster.settings.bookmark_seconds
    next_bookmark = time.monotonic() + interval
    while True:
        with store.lock:
            changes = store.changes_since(last)
            if not changes:
                wait = min(deadline, next_bookmark, time.monotonic() + 1.0) - time.monotonic()
                if wait > 0:
                    store.changed.wait(wait)
                changes = store.changes_since(last)
            # The history moved past us while we were writing: the client must re-list.
            expired = last < store.compacted_rv and bool(changes) and changes[0].rv > last + 1
            compacted = store.compacted_rv
            last = store.resource_version
            events = [e for c in changes if (e := _translate(rt, c, namespace, matches))]
        if expired:
            gone = errors.gone(f"too old resource version: {start} ({compacted + 1})")
            yield _line("ERROR", gone.status())
            return
        for kind, obj in events:
            yield _line(kind, obj)
        now = time.monotonic()
        if now >= deadline or request.client_gone():
            return
        if now >= next_bookmark:
            next_bookmark = now + interval
            if bookmarks:
                yield _bookmark(rt, last)
