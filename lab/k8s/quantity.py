"""Kubernetes resource quantities (``250m``, ``512Mi``) to numbers and back.

Only what metrics and tables need: CPU in millicores, memory in bytes.
"""

from __future__ import annotations

from kubernetes.utils import parse_quantity as kubernetes_quantity


def parse_quantity(text: str | int | float) -> float:
    """The value of a quantity in base units (cores or bytes)."""
    return float(kubernetes_quantity(text))


def millicores(text: str | int | float) -> int:
    return round(parse_quantity(text) * 1000)


def byte_count(text: str | int | float) -> int:
    return round(parse_quantity(text))


def format_millicores(value: float) -> str:
    return f"{max(0, round(value))}m"


def format_kibibytes(value: float) -> str:
    # metrics-server reports memory in Ki; kubectl top converts to Mi itself.
    return f"{max(0, round(value / 1024))}Ki"
