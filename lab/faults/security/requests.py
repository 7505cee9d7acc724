"""Scanner traffic: real HTTP requests with injection, XSS, traversal and probe paths.

A thread in the supervisor sends GETs through the API's Service (the balancer on the API
port) from one address an edge proxy would put in X-Forwarded-For (TEST-NET-3), as the
login attacks do (lab/faults/security/logins.py). The API answers them for real (404 for
a path it has no route for; a real route ignores the query it does not know) and logs each with its
address and URL, which the request checks (SEC-121..123) read from the pods' logs.
Nothing edits a log. Clear waits until the last request is older than the lab profile's
request window, so the next sweep judges the load generator's traffic alone.
"""

from __future__ import annotations

import http.client
import itertools
from collections.abc import Iterator

from lab.faults.framework import register
from lab.faults.security.logins import Attempt, LoginAttack
from lab.outputs import lab_threshold

WINDOW_S = lab_threshold("security_requests", "window_s")
CLIENT_ERRORS = int(lab_threshold("security_requests", "client_errors_min"))
SHARE_MAX = lab_threshold("security_requests", "traffic_share_max")

# What scanners send, percent-encoded as they send it (the checks decode before matching).
SCANS = (
    "/api/portfolios?id=1%27%20or%201%3D1--",
    "/api/portfolios?q=1%20UNION%20SELECT%20password%20FROM%20users",
    "/search?q=1%27%3Bselect%20pg_sleep(5)--",
    "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "/profile?next=javascript:alert(document.cookie)",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/download?file=%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/.env",
    "/.git/config",
    "/wp-admin/",
    "/wp-login.php",
    "/phpmyadmin/index.php",
    "/actuator/env",
    "/server-status",
    "/api/users/me?token=lab-scanner-token&q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
)


def get(
    conn: http.client.HTTPConnection,
    address: str,
    path: str,
    agent: str = "sqlmap/1.8",
    **more: str,
) -> int:
    """One GET through the API's Service, as sent from `address` (with the headers `more`
    names, underscores as dashes); the answer's status."""
    headers = {"X-Forwarded-For": address, "User-Agent": agent}
    headers.update({name.replace("_", "-"): value for name, value in more.items()})
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


@register
class Scanner(LoginAttack):
    name = "security-scanner"
    trips = ("SEC-121", "SEC-122")
    description = (
        "A vulnerability scanner on one address: GETs with SQL injection, XSS, path "
        "traversal and probe paths (/.env, /wp-admin/, /.git/config, ...), 2 a second until "
        "clear, answered 404 (one a 200: a real route with a query it ignores): past "
        "SEC-122's signatures and SEC-121's "
        f"security_requests.client_errors_min ({CLIENT_ERRORS} in the lab profile) within "
        f"its window ({WINDOW_S:g} s), below SEC-123's share ({SHARE_MAX:.0%}). Inject "
        f"returns once the API has answered {CLIENT_ERRORS + 2} of them; clear waits until the "
        "last is older than the window."
    )
    every_s = 0.5
    window_s = WINDOW_S
    needed = CLIENT_ERRORS + 2
    address = "203.0.113.77"

    def attempts(self, params: dict[str, str]) -> Iterator[Attempt]:
        return ((self.address, "GET", path) for path in itertools.cycle(SCANS))

    def send_one(self, conn: http.client.HTTPConnection, attempt: tuple[str, str, str]) -> bool:
        address, _, path = attempt
        return 400 <= get(conn, address, path) < 500

    def note(self, params: dict[str, str]) -> str:
        return f"{self.address} is scanning the API for weak spots 2 times a second"
