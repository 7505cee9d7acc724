"""Ports for private labs that no other lab, and no outgoing connection, can take.

A port the kernel hands out for `bind(0)` comes from its ephemeral range, the same range
every outgoing connection's source port and every other lab's ports come from. A lab
whose service is down for a moment (a PostgreSQL restart during a fault) leaves its port
free, and a lab starting then in another test session could be given it; the first lab's
service then never binds again. So private labs take a block of ports below the ephemeral
range, reserved across processes by an exclusive lock on a file per block, which the
kernel releases when the holding process ends (also when it crashes).
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

BLOCK = 16  # ports per lab: its services use fewer; room to add one
LOCKS = Path(tempfile.gettempdir()) / "rolerabbit-lab-ports"
# The lab's default ports (lab up without flags) are all below this.
FLOOR = 30000


def ephemeral_floor() -> int:
    """The lowest port of the kernel's ephemeral range (32768 unless configured)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortBlock:
    """A block of ports held for one lab until `release()` (or the process's end)."""

    def __init__(self, first: int, lock_fd: int) -> None:
        self.ports = list(range(first, first + BLOCK))
        self._fd: int | None = lock_fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops its lock
            self._fd = None


def block_starts() -> list[int]:
    """The first port of each block between FLOOR and the ephemeral range."""
    return list(range(FLOOR, ephemeral_floor() - BLOCK + 1, BLOCK))


def reserve_block(starts: list[int] | None = None) -> PortBlock | None:
    """A free block (of `starts`, default every block), or None when none is free or there
    is no room (a narrow or unusual ephemeral range): the caller falls back to
    kernel-chosen ports."""
    starts = block_starts() if starts is None else starts
    if not starts:
        return None
    LOCKS.mkdir(exist_ok=True)
    offset = random.randrange(len(starts))  # concurrent sessions rarely try the same block
    for start in starts[offset:] + starts[:offset]:
        fd = os.open(LOCKS / f"{start}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if all(_bindable(port) for port in range(start, start + BLOCK)):
            return PortBlock(start, fd)
        os.close(fd)  # something else (not a lab of ours) listens there
    return None
