"""The one bounded wait the suite's own tests use: poll a condition until a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2
) -> None:
    """Return once `predicate()` holds; fail naming `what` after `timeout` seconds."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def prometheus_window_full(prometheus_url: str, selector: str, window_s: float) -> bool:
    """Whether Prometheus scraped every target of `selector` through the last `window_s`
    (at one scrape a second, most of that many points): increase() over the window then
    reads the whole window, not the few seconds since the lab (or a fault) began."""
    import json
    import urllib.parse
    import urllib.request

    span = f"{window_s:g}s"
    query = urllib.parse.urlencode({"query": f"min(count_over_time(up{{{selector}}}[{span}]))"})
    try:
        with urllib.request.urlopen(f"{prometheus_url}/api/v1/query?{query}", timeout=5) as r:
            result = json.load(r)["data"]["result"]
    except (OSError, ValueError, KeyError):
        return False
    return bool(result) and float(result[0]["value"][1]) >= 0.8 * window_s
