"""Small metadata helpers shared by every module: time stamps, uids, names.

Kubernetes serialises times as RFC 3339 in UTC with second precision
(``Time``) or microsecond precision (``MicroTime``); both are produced here so
that the Go and Python clients parse them.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime

# The alphabet Kubernetes uses for generated name suffixes (no vowels, no
# look-alike characters), so generated names look like the real thing.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime | None = None) -> str:
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(moment: datetime | None = None) -> str:
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    """Parse a ``Time`` or ``MicroTime``; None for missing values."""
    if not text:
        return None
    text = text.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def seconds_since(text: str | None) -> float | None:
    moment = parse_time(text)
    return None if moment is None else (now() - moment).total_seconds()


def new_uid() -> str:
    return str(uuid.uuid4())


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(SUFFIX_ALPHABET) for _ in range(length))


def monotonic() -> float:
    return time.monotonic()
