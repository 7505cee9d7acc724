"""The suite's options that take a value, and `--option VALUE` written as `--option=VALUE`.

Shared by the invocation plugin (opscheck/invocation.py) and the resident sweeper
(opscheck/sweeper.py), which must not import a plugin module before pytest registers it.
"""

from __future__ import annotations

from collections.abc import Sequence

# The suite's options that take a value (opscheck/options.py).
VALUE_OPTIONS = ("--config", "--reports-dir", "--env", "--fix-only", "--fail-on", "--inconclusive")


def split_value_indexes(args: Sequence[str]) -> list[int]:
    """Indexes of the value options whose value is the next token."""
    found = []
    for index, token in enumerate(args[:-1]):
        if token == "--":
            break
        if token in VALUE_OPTIONS:
            found.append(index)
    return found


def joined(args: Sequence[str]) -> list[str]:
    """`args` with every `--option VALUE` pair written as `--option=VALUE`."""
    out: list[str] = []
    items = iter(args)
    for token in items:
        if token == "--":
            out += [token, *items]
            break
        if token in VALUE_OPTIONS:
            value = next(items, None)
            out.append(token if value is None else f"{token}={value}")
        else:
            out.append(token)
    return out
