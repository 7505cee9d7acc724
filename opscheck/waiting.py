"""A bounded wait: poll a condition until it holds or the time is up, saying what it waited
for. Remediations of every section wait this way (for a rollout, a replacement pod, a key)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    pending: Callable[[], str | None],
    timeout_s: float,
    what: str,
    *,
    interval_s: float = 0.5,
    hopeless: Callable[[str], bool] | None = None,
) -> None:
    """Poll `pending` until it returns None; until then it returns why it is not done yet.

    Raises TimeoutError "<what> after <timeout_s>s: <why>" once `timeout_s` has passed, or
    at once when `hopeless(why)` says that waiting longer cannot help (a rollout past its
    progress deadline).
    """
    deadline = time.monotonic() + timeout_s
    while (why := pending()) is not None:
        if time.monotonic() >= deadline or (hopeless is not None and hopeless(why)):
            raise TimeoutError(f"{what} after {timeout_s:g}s: {why}")
        time.sleep(interval_s)
