"""The bundle's manifest: `SHA256SUMS` in the format `sha256sum` writes and `-c` verifies.

One line per file, `<64 hex digits><two spaces><path relative to the bundle>`, in path
order; the manifest does not list itself. File names with a newline or backslash would need
sha256sum's escaping; the bundle never writes such names, and refuses them here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MANIFEST = "SHA256SUMS"
CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_lines(directory: Path) -> list[str]:
    """`sha256sum` lines for every file under `directory` but the manifest, in path order."""
    lines = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        if name == MANIFEST:
            continue
        if "\n" in name or "\\" in name:
            raise ValueError(f"{name!r}: a name sha256sum would have to escape")
        lines.append(f"{sha256_of(path)}  {name}")
    return lines


def write_manifest(directory: Path) -> Path:
    """Write `directory/SHA256SUMS`; verify with `cd directory && sha256sum -c SHA256SUMS`."""
    path = directory / MANIFEST
    path.write_text("".join(f"{line}\n" for line in manifest_lines(directory)))
    return path
