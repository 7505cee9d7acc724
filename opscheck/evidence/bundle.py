"""One evidence bundle: a directory its collectors write into, redacted, with notes.

A collector writes a file per source (`write`), or, when the source could not be read, a
file saying so (`unavailable`): a bundle never lacks a file silently, and a source that is
down never stops the others. `note` adds a line to `collection.txt` (what was read, with
which bounds, what was cut); `impact` adds a line to the incident report's Impact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NOTES = "collection.txt"


@dataclass
class EvidenceBundle:
    """The directory of one section's evidence, and what its collectors said about it."""

    section: str
    directory: Path
    redact: Callable[[str], str]
    notes: list[str] = field(default_factory=list)
    impacts: list[str] = field(default_factory=list)

    def path(self, name: str) -> Path:
        path = (self.directory / name).resolve()
        if self.directory.resolve() not in path.parents:
            raise ValueError(f"{name!r} is not a file name inside the bundle")
        return path

    def write(self, name: str, text: str, note: str = "") -> Path:
        """Write `text`, redacted, to `name` (a path inside the bundle)."""
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.redact(text))
        self.notes.append(f"{name}: {note}" if note else name)
        return path

    def unavailable(self, name: str, source: str, why: str) -> Path:
        """A file saying that `source` could not be read, and why, instead of its data."""
        text = f"not collected: {source} could not be read: {why}\n"
        return self.write(f"{name}.unavailable.txt", text, f"NOT COLLECTED ({why})")

    def note(self, line: str) -> None:
        self.notes.append(line)

    def impact(self, line: str) -> None:
        self.impacts.append(self.redact(line))

    def write_notes(self) -> Path:
        path = self.path(NOTES)
        path.write_text(self.redact("".join(f"{line}\n" for line in self.notes)))
        return path
