"""List queries: selectors, cross-namespace lists and ``limit``/``continue`` paging.

The continue token is opaque to clients (base64 of a small JSON document) and
names the last (namespace, name) returned, so pages never skip or repeat an
item while nothing changes; a consistent snapshot is not promised.

``resourceVersion`` as an API server reads it on a LIST: unset is a consistent read;
``0`` is "any version", which a real server answers from its watch cache (perhaps a
little stale, never from etcd) and this one from its store, with every object and the
same paging; a number is "not older than" it (``resourceVersionMatch=NotOlderThan``,
the default) or exactly it (``Exact``): this server keeps no history, so an older exact
version is 410 Gone and a version it has not reached yet a 504, as a real server
answers after waiting. The combinations a real server refuses are refused alike (400).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.k8s.errors import ApiError, bad_request, gone
from lab.k8s.selectors import matches_fields, parse_field_selector, parse_label_selector

Obj = dict[str, Any]


@dataclass(frozen=True)
class ListQuery:
    label_selector: str | None = None
    field_selector: str | None = None
    limit: int | None = None
    continue_token: str | None = None
    resource_version: str | None = None
    version_match: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> ListQuery:
        limit_text = params.get("limit")
        try:
            limit = int(limit_text) if limit_text else None
        except ValueError as exc:
            raise bad_request(f"invalid limit {limit_text!r}") from exc
        return cls(
            params.get("labelSelector") or None,
            params.get("fieldSelector") or None,
            limit if limit and limit > 0 else None,
            params.get("continue") or None,
            params.get("resourceVersion") or None,
            params.get("resourceVersionMatch") or None,
        )

    def validate_version(self) -> None:
        """Refuse what a real API server refuses in a LIST's resourceVersion options (a
        watch reads them otherwise: lab/k8s/watch.py)."""
        rv, match = self.resource_version, self.version_match
        if rv is not None and not rv.isdigit():
            raise bad_request(f"invalid resource version {rv!r}")
        if match is not None:
            if match not in ("NotOlderThan", "Exact"):
                raise bad_request(
                    f"resourceVersionMatch: Unsupported value: {match!r}: supported values: "
                    '"Exact", "NotOlderThan", ""'
                )
            if rv is None:
                raise bad_request(
                    "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            if self.continue_token:
                raise bad_request("resourceVersionMatch is forbidden when continue is provided")
            if match == "Exact" and rv == "0":
                raise bad_request(
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
                )
        if self.continue_token and rv not in (None, "0"):
            raise bad_request("specifying resource version is not allowed when using continue")

    def check_version(self, current: int) -> None:
        """The store is at `current`: can it answer the version asked for?"""
        rv = self.resource_version
        if rv is None or rv == "0" or self.continue_token:
            return
        wanted = int(rv)
        if self.version_match == "Exact" and wanted < current:
            raise gone(f"too old resource version: {wanted} ({current})")
        if wanted > current:
            raise ApiError(
                504, "Timeout", f"Too large resource version: {wanted}, current: {current}"
            )

    def predicate(self, resource: str) -> Callable[[Obj], bool]:
        labels = parse_label_selector(self.label_selector)
        fields = parse_field_selector(self.field_selector, resource)
        return lambda obj: labels(obj) and matches_fields(obj, fields)


@dataclass(frozen=True)
class Page:
    items: list[Obj]
    continue_token: str | None
    remaining: int | None


def _key(obj: Obj) -> tuple[str, str]:
    metadata = obj["metadata"]
    return (metadata.get("namespace", ""), metadata["name"])


def encode_token(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": 1, "rv": rv, "after": list(last)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        namespace, name = data["after"]
        return (str(namespace), str(name))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise bad_request(f"continue key is not valid: {token!r}") from exc


def paginate(
    items: list[Obj], query: ListQuery, rv: int, predicate: Callable[[Obj], bool] | None = None
) -> Page:
    """Cut one page out of items ordered by (namespace, name), those `predicate` selects.

    The items before the continue token are skipped before the predicate runs: a paged
    LIST of many objects costs each page only what is left of it.
    """
    if query.continue_token:
        items = items[bisect.bisect_right(items, decode_token(query.continue_token), key=_key) :]
    if predicate is not None:
        items = [o for o in items if predicate(o)]
    if query.limit is None or len(items) <= query.limit:
        return Page(items, None, None)
    page = items[: query.limit]
    return Page(page, encode_token(rv, _key(page[-1])), len(items) - query.limit)
