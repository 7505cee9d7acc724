"""Bounds on what a bundle keeps: bytes of text, rows of CSV, and saying when they cut.

A source is read with one more unit than its bound (limitBytes N+1, LIMIT N+1), so "more
was there" is known rather than guessed from a read that happened to fill its bound.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass


@dataclass(frozen=True)
class Bounded:
    """What was kept of a source: the text, its size, and whether the bound cut it."""

    text: str
    size: int  # bytes for text, data rows for CSV
    truncated: bool


def bound_bytes(data: bytes, max_bytes: int) -> Bounded:
    """The first `max_bytes` of `data` (cut at a line's end when one is in the kept part)."""
    if len(data) <= max_bytes:
        return Bounded(data.decode("utf-8", "replace"), len(data), False)
    kept = data[:max_bytes]
    newline = kept.rfind(b"\n")
    if newline >= 0:
        kept = kept[: newline + 1]
    return Bounded(kept.decode("utf-8", "replace"), len(kept), True)


def bound_csv(text: str, max_rows: int) -> Bounded:
    """The header and the first `max_rows` data rows of CSV `text` (quoted newlines kept)."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return Bounded("", 0, False)
    header, data = rows[0], rows[1:]
    if len(data) <= max_rows:
        return Bounded(text, len(data), False)
    kept = data[:max_rows]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(kept)
    return Bounded(out.getvalue(), len(kept), True)
