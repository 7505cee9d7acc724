"""The suite's catalogue as `pytest --catalogue` prints it, for tests that expect check ids:
they take them from here instead of keeping ranges of their own."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("ID", "SECTION", "SEVERITY", "TITLE", "REMEDIATION")
ROW = re.compile(r"^[A-Z]+-\d{3} ")


@dataclass(frozen=True)
class Entry:
    """One row of the catalogue; `remediation` is the remediation, or the first manual step."""

    id: str
    section: str
    severity: str
    title: str
    remediation: str


def parse(output: str) -> tuple[Entry, ...]:
    """The rows of `pytest --catalogue` output, cut at the header's column positions."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if tuple(line.split()) == COLUMNS)
    starts = [lines[header].index(column) for column in COLUMNS]
    ends: list[int | None] = [*starts[1:], None]
    rows = (line for line in lines[header + 1 :] if ROW.match(line))
    return tuple(
        Entry(*(row[start:end].strip() for start, end in zip(starts, ends, strict=True)))
        for row in rows
    )


@functools.cache
def catalogue() -> tuple[Entry, ...]:
    """Every check of this checkout's suite (run once per test process)."""
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), path]))}
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--catalogue", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return parse(listed.stdout)


def check_ids(section: str | None = None) -> list[str]:
    """The catalogue's check ids, of one section (its marker) or all, in catalogue order."""
    return [entry.id for entry in catalogue() if section in (None, entry.section)]
