"""Kubernetes resource quantities (``250m``, ``512Mi``) to numbers and back.

Only what metrics and tables need: CPU in millicores, memory in bytes.
"""

from __future__ import annotations

import re

_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "m": 0.001,
}
_QUANTITY = re.compile(r"^([0-9.]+)(e[0-9]+)?([A-Za-z]*)$")


def parse_quantity(text: str | int | float) -> float:
    """The value of a quantity in base units (cores or bytes)."""
    if isinstance(text, int | float):
        return float(text)
    match = _QUANTITY.match(text.strip())
    if not match or match.group(3) not in _SUFFIXES:
        raise ValueError(f"invalid quantity {text!r}")
    number = float(match.group(1) + (match.group(2) or ""))
    return number * _SUFFIXES[match.group(3)]


def millicores(text: str | int | float) -> int:
    return round(parse_quantity(text) * 1000)


def byte_count(text: str | int | float) -> int:
    return round(parse_quantity(text))


def format_millicores(value: float) -> str:
    return f"{max(0, round(value))}m"


def format_kibibytes(value: float) -> str:
    # metrics-server reports memory in Ki; kubectl top converts to Mi itself.
    return f"{max(0, round(value / 1024))}Ki"
