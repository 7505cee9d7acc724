"""Kubernetes quantities and measurement times, as the performance rules read them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes.utils import parse_quantity

Obj = Mapping[str, Any]
MIB = 2**20


def quantity(text: str | int | float) -> float:
    """A Kubernetes quantity ("250m", "512Mi", "1.5", "2G") as a plain number."""
    return float(parse_quantity(text))


def millicores(text: str | int | float) -> float:
    return quantity(text) * 1000


def measured_at(item: Obj) -> float | None:
    """A PodMetrics/NodeMetrics `timestamp` (RFC 3339) as epoch seconds, None if absent."""
    stamp = item.get("timestamp")
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()


GO_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def window_s(item: Obj) -> float | None:
    """A PodMetrics `window` (a Go duration: "15s", "1m0s", "20.5s") in seconds, if given."""
    text = item.get("window")
    match = GO_DURATION.fullmatch(text) if isinstance(text, str) and text else None
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
