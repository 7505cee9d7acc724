"""Private labs' ports: blocks below the ephemeral range, never shared while held."""

from __future__ import annotations

import socket

from lab.port_blocks import BLOCK, FLOOR, ephemeral_floor, reserve_block
from lab.settings import PORT_NAMES


def test_blocks_held_at_once_never_overlap_and_lie_below_the_ephemeral_range() -> None:
    blocks = [reserve_block() for _ in range(5)]
    try:
        ports = [port for block in blocks if block is not None for port in block.ports]
        assert len(ports) == 5 * BLOCK == len(set(ports))
        assert all(FLOOR <= port < ephemeral_floor() for port in ports)
        assert len(PORT_NAMES) <= BLOCK  # every service of a lab gets one of its ports
    finally:
        for block in blocks:
            if block is not None:
                block.release()


def test_a_held_block_is_refused_until_released_and_a_busy_port_spoils_its_block() -> None:
    first = reserve_block()
    assert first is not None
    start = first.ports[0]
    assert reserve_block([start]) is None  # held: another lab's
    first.release()
    again = reserve_block([start])
    assert again is not None and again.ports == first.ports
    again.release()
    # Something that is not a lab of ours listens in the block: it is never handed out.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", start + 3))
        squatter.listen()
        assert reserve_block([start]) is None
