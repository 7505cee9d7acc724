"""Errors faults in the API's answers: a share of its requests answered 502, and how the
faults count the 5xx it answered."""

from __future__ import annotations

import time

from lab.errors import LabError
from lab.faults._api_pods import api_5xx, target_pod, where
from lab.faults.framework import Fault, LabControl, float_param, register, wait_until
from lab.outputs import lab_threshold
from lab.switches import pod_key

LOG_WINDOW_S = lab_threshold("errors", "log_window_s")
# Each 5xx logs two error lines; ERR-102 fails above 30 a minute: 16 of them fill the lab's
# 60 s window past it even on pods older than the window.
ENOUGH_5XX = 16


def wait_for_api_5xx(lab: LabControl, count: int, timeout_s: float) -> str:
    """Bounded wait until the API has answered `count` 5xx more than when called."""
    before, deadline = api_5xx(lab), time.monotonic() + timeout_s
    while (now := api_5xx(lab)) - before < count:
        if time.monotonic() >= deadline:
            raise LabError(f"the API answered no 5xx within {timeout_s:g}s of the fault")
        time.sleep(0.2)
    return f"the API answered {now - before:.0f} 5xx since"


@register
class ApiErrorRate(Fault):
    name = "api-error-rate"
    section = "errors"
    trips = ("ERR-101", "ERR-102")
    description = (
        "A share of the API's app requests (param share, default 0.5) answer 502, each logged as "
        f"errors. Inject returns once the API has answered {ENOUGH_5XX} of them: their error "
        f"lines are then over ERR-102's limit within the lab profile's {LOG_WINDOW_S:g} s log "
        "window, however old the pods are. Param pod=<name> (or pod=first, the first Ready API "
        "pod by name) limits the fault to that pod's process."
    )

    def __init__(self) -> None:
        self.switch = "api.error_share"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        share = float_param(params, "share", 0.5)
        if not 0 < share <= 1:
            raise LabError(f"--param share={share} must be in (0, 1], e.g. --param share=0.5")
        pod = target_pod(lab, params)
        pods = None if pod is None else [pod]
        before = api_5xx(lab, pods)
        self.switch = pod_key("api.error_share", pod)
        lab.set_switch(self.switch, share)
        try:
            wait_until(
                f"{where(pod)} answering {ENOUGH_5XX} requests with 502",
                lambda: api_5xx(lab, pods) - before >= ENOUGH_5XX,
                30,
            )
        except LabError:
            self.clear(lab)  # never leave a switch behind a failed injection
            raise
        return f"{share:.0%} of app requests to {where(pod)} now fail with 502"

    def clear(self, lab: LabControl) -> None:
        lab.set_switch(self.switch, None)
        self.switch = "api.error_share"
