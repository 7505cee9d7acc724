"""What the database faults share: a superuser session, an integer param, a bounded wait."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from lab.errors import LabError
from lab.faults.base import LabControl, float_param


def int_param(params: dict[str, str], key: str, default: int) -> int:
    return int(float_param(params, key, default))


def wait_until(what: str, test: Any, timeout_s: float = 10.0) -> None:
    """Poll `test()` until true; a LabError names what never happened."""
    deadline = time.monotonic() + timeout_s
    while not test():
        if time.monotonic() >= deadline:
            raise LabError(f"{what} did not happen within {timeout_s:g}s")
        time.sleep(0.05)


def superuser(lab: LabControl) -> psycopg.Connection[Any]:
    return lab.connect_db("superuser", autocommit=True)
