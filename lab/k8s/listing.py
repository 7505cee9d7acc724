"""List queries: selectors, cross-namespace lists and ``limit``/``continue`` paging.

The continue token is opaque to clients (base64 of a small JSON document) and
names the last (namespace, name) returned, so pages never skip or repeat an
item while nothing changes; a consistent snapshot is not promised.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.k8s.errors import bad_request
from lab.k8s.selectors import matches_fields, parse_field_selector, parse_label_selector

Obj = dict[str, Any]


@dataclass(frozen=True)
class ListQuery:
    label_selector: str | None = None
    field_selector: str | None = None
    limit: int | None = None
    continue_token: str | None = None

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


def paginate(items: list[Obj], query: ListQuery, rv: int) -> Page:
    """Cut one page out of items already filtered and ordered by (namespace, name)."""
    if query.continue_token:
        items = items[bisect.bisect_right(items, decode_token(query.continue_token), key=_key) :]
    if query.limit is None or len(items) <= query.limit:
        return Page(items, None, None)
    page = items[: query.limit]
    return Page(page, encode_token(rv, _key(page[-1])), len(items) - query.limit)
