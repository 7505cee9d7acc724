"""A traffic surge: real HTTP requests through the API's Service, far above the load's rate.

Three threads in the supervisor send GETs through the balancer on the API port, as the login
attacks do (lab/faults/security/logins.py), 60 a second from the 254 addresses of
TEST-NET-3 in turn (an edge proxy's X-Forwarded-For): half list portfolios, half ask
/api/users/me for users that do not exist, which the API answers 404. The API counts each
in its real request counter, which SEC-131 reads (the pods' /api/metrics or Prometheus).
Spread over so many addresses, no one of them piles up 4xx answers (SEC-121) or an
outsized share (SEC-123). Clear waits until the last request is older than the lab's
windows, so the next sweep judges the load generator's traffic alone.
"""

from __future__ import annotations

import http.client
import itertools
from collections.abc import Iterator

from lab.faults.framework import register
from lab.faults.security.logins import Attempt, LoginAttack
from lab.faults.security.requests import get
from lab.outputs import PROMETHEUS_WINDOW_S, lab_threshold

REQUESTS_MAX = lab_threshold("security_traffic", "requests_max_per_s")
ERRORS_MAX = lab_threshold("security_traffic", "client_errors_max_per_s")
WINDOW_S = max(lab_threshold("security_requests", "window_s"), PROMETHEUS_WINDOW_S)
NO_SUCH_USER = 900_000  # the seed has 5000 users
SENDERS = 3  # clients, 20 requests a second each
AGENT = "Mozilla/5.0 (X11; Linux x86_64)"


@register
class TrafficSurge(LoginAttack):
    name = "security-traffic-surge"
    trips = ("SEC-131",)
    description = (
        f"{SENDERS * 20} GETs a second through the API's Service until clear ({SENDERS} "
        "clients), from 254 addresses in turn, half of them /api/users/me for users that do "
        "not exist (404): with the load's 10 a second, past SEC-131's "
        f"security_traffic.requests_max_per_s ({REQUESTS_MAX:g} in the lab profile) and "
        f"client_errors_max_per_s ({ERRORS_MAX:g}), and their baseline limits, while no "
        "address passes SEC-121's floor or SEC-123's share. Inject returns once the API has "
        "answered 120 of them; clear waits until the last is older than the lab's windows "
        f"({WINDOW_S:g} s)."
    )
    every_s = 0.05  # per client
    window_s = WINDOW_S
    needed = 120
    what = "requests"
    senders = SENDERS

    def __init__(self) -> None:
        super().__init__()
        self.plans = itertools.count()  # each client's plan starts elsewhere in the cycle

    def attempts(self, params: dict[str, str]) -> Iterator[Attempt]:
        first = next(self.plans) * 1000

        def plan() -> Iterator[Attempt]:
            for n in itertools.count(first):
                address = f"203.0.113.{1 + n % 254}"
                if n % 2:
                    yield (address, "/api/users/me", str(NO_SUCH_USER + n % 1000))
                else:
                    yield (address, "/api/portfolios", str(1 + n % 5000))

        return plan()

    def send_one(self, conn: http.client.HTTPConnection, attempt: tuple[str, str, str]) -> bool:
        address, path, user = attempt
        return get(conn, address, path, AGENT, X_User_Id=user) in (200, 404)

    def note(self, params: dict[str, str]) -> str:
        return f"{SENDERS * 20} requests a second from 254 addresses, half of them answered 404"
