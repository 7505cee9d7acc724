"""Login attacks: real HTTP logins against the API, from a thread in the supervisor.

Each attack POSTs /api/auth/login through the API's Service (the balancer on the API port),
as a client on the internet reaches it; its address is the one an edge proxy would put in
X-Forwarded-For (TEST-NET-3, 203.0.113.0/24), which the API trusts from its proxy on
loopback. So the API answers real 401s and 200s and writes real auth_logs rows; nothing
edits the log. The attack runs until clear, so a sweep at any time after inject sees it
in its window; inject returns once the API has answered enough of it to trip the checks.

The rows stay in the log after clear, as an attack's would: clear waits (bounded) until
the last of them is older than the lab profile's login window (lab/outputs.py), so the
next sweep judges the load generator's traffic alone.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

from lab.errors import LabError
from lab.faults.framework import Fault, LabControl, float_param, register, wait_until
from lab.outputs import lab_threshold
from lab.services.api import LOGIN_PASSWORD

WINDOW_S = lab_threshold("security_logins", "window_s")
SPIKE_MIN = int(lab_threshold("security_logins", "spike_min_failures"))
BRUTE_FORCE = int(lab_threshold("security_logins", "brute_force_failures"))
STUFFING = int(lab_threshold("security_logins", "stuffing_accounts"))
BURST = int(lab_threshold("security_logins", "burst_failures"))
REQUEST_ERRORS = int(lab_threshold("security_requests", "client_errors_min"))
MARGIN_S = 0.5
WRONG = "hunter2"

# (address, e-mail, password), or None: send nothing this tick.
Attempt = tuple[str, str, str] | None


def login(conn: http.client.HTTPConnection, address: str, email: str, password: str) -> int:
    """One login through the API's Service, as sent from `address`; the answer's status."""
    body = json.dumps({"email": email, "password": password})
    headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
    conn.request("POST", "/api/auth/login", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


class LoginAttack(Fault):
    """Base: `attempts()` sent one per `every_s` until clear, by each of `senders` clients
    (each its own call of `attempts()`)."""

    section = "security"
    every_s: ClassVar[float] = 0.25
    window_s: ClassVar[float] = WINDOW_S  # clear waits until the last attempt is this old
    needed: ClassVar[int]  # answered attempts before inject returns
    what: ClassVar[str] = "logins"
    senders: ClassVar[int] = 1  # clients at once, each with its own plan and connection

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.answered = 0
        self.last_at: float | None = None

    def attempts(self, params: dict[str, str]) -> Iterator[Attempt]:
        raise NotImplementedError

    def note(self, params: dict[str, str]) -> str:
        raise NotImplementedError

    def inject(self, lab: LabControl, **params: str) -> str | None:
        plans = [self.attempts(params) for _ in range(self.senders)]
        self.stop, self.answered = threading.Event(), 0
        port = lab.ctx.settings.api_port
        self.threads = [
            threading.Thread(
                target=self._send,
                args=(port, plan, self.stop),
                name=f"fault-{self.name}-{n}",
                daemon=True,
            )
            for n, plan in enumerate(plans)
        ]
        for thread in self.threads:
            thread.start()
        try:
            wait_until(
                f"the API answering {self.needed} of {self.name}'s {self.what}",
                lambda: self.answered >= self.needed,
                timeout_s=30,
            )
        except LabError:
            self.clear(lab)  # never leave an attack running behind a failed injection
            raise
        return self.note(params)

    def _send(self, port: int, plan: Iterator[Attempt], stop: threading.Event) -> None:
        conn: http.client.HTTPConnection | None = None
        next_at = time.monotonic()
        while not stop.is_set():
            attempt = next(plan)
            if attempt is not None:
                try:
                    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    if self.send_one(conn, attempt):
                        self.answered += 1
                        self.last_at = time.monotonic()
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
            next_at = max(next_at + self.every_s, time.monotonic())
            stop.wait(max(0.0, next_at - time.monotonic()))
        if conn is not None:
            conn.close()

    def send_one(self, conn: http.client.HTTPConnection, attempt: tuple[str, str, str]) -> bool:
        """Send one attempt; True when the API answered it as it answers a login."""
        return login(conn, *attempt) in (200, 401)

    def clear(self, lab: LabControl) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.threads = []
        if self.last_at is not None:
            left = self.last_at + self.window_s + MARGIN_S - time.monotonic()
            time.sleep(max(0.0, min(left, self.window_s + MARGIN_S)))
            self.last_at = None


def _account(params: dict[str, str], default: str) -> str:
    account = params.get("account", default)
    if "@" not in account:
        raise LabError(f"--param account={account!r} is not an e-mail (example: {default})")
    return account


@register
class BruteForce(LoginAttack):
    name = "security-brute-force"
    trips = ("SEC-111", "SEC-112", "SEC-121")
    description = (
        "Wrong passwords for one account (param account, default user42@example.test) from "
        "one address, 4 a second until clear: past SEC-112's "
        f"security_logins.brute_force_failures ({BRUTE_FORCE} in the lab profile) and "
        f"SEC-111's floor ({SPIKE_MIN}) within its window ({WINDOW_S:g} s in the lab "
        "profile). Their 401s from one address also pass SEC-121's floor "
        f"(security_requests.client_errors_min, {REQUEST_ERRORS} in the lab profile). Inject "
        "returns once the API has answered 20 of them; clear waits until the last is older "
        "than the window."
    )
    needed = 20
    address = "203.0.113.66"

    def attempts(self, params: dict[str, str]) -> Iterator[Attempt]:
        account = _account(params, "user42@example.test")
        return itertools.repeat((self.address, account, WRONG))

    def note(self, params: dict[str, str]) -> str:
        account = params.get("account", "user42@example.test")
        return f"{self.address} is guessing {account}'s password 4 times a second"


@register
class CredentialStuffing(LoginAttack):
    name = "security-credential-stuffing"
    trips = ("SEC-111", "SEC-113", "SEC-121")
    description = (
        "Logins from one address, each for another account (existing users with wrong "
        "passwords, and e-mails with no user), 4 a second until clear, as with a leaked "
        f"credential list: past SEC-113's security_logins.stuffing_accounts ({STUFFING} in "
        f"the lab profile) and SEC-111's floor ({SPIKE_MIN}), and (401s from one address) "
        f"SEC-121's floor ({REQUEST_ERRORS}). Inject returns once the API has answered 20 of "
        "them; clear waits until the last is older than the window."
    )
    needed = 20
    address = "203.0.113.50"

    def attempts(self, params: dict[str, str]) -> Iterator[Attempt]:
        def plan() -> Iterator[Attempt]:
            for n in itertools.count(1):
                if n % 4 == 0:
                    email = f"leaked{n}@mail.example"  # no such user
                else:
                    email = f"user{random.randint(1, 5000)}@example.test"
                yield (self.address, email, f"{WRONG}{n % 7}")

        return plan()

    def note(self, params: dict[str, str]) -> str:
        return f"{self.address} is trying a new account 4 times a second"


@register
class LoginAfterBurst(LoginAttack):
    name = "security-login-after-burst"
    trips = ("SEC-114",)
    description = (
        f"Every 5 s, from a new address: {BURST} wrong passwords for a user, then that "
        "user's right one (param account=other: another user's), until clear (param rounds: "
        "only that many rounds). Past "
        f"SEC-114's security_logins.burst_failures ({BURST} in the lab profile), and below "
        "every other login threshold. Inject returns once the API has answered one round; "
        "clear waits until the last is older than the window."
    )
    needed = BURST + 1
    ticks = 20  # one round per 20 ticks of 0.25 s

    def attempts(self, params: dict[str, str]) -> Iterator[Attempt]:
        same = params.get("account", "same")
        if same not in ("same", "other"):
            raise LabError(f"--param account={same!r} must be same or other")

        rounds = int(float_param(params, "rounds", 0))

        def plan() -> Iterator[Attempt]:
            for round_ in itertools.count():
                if rounds and round_ >= rounds:
                    yield from itertools.repeat(None)
                address = f"203.0.113.{100 + round_ % 100}"
                user = 1000 + round_ % 4000
                winner = user if same == "same" else user + 1
                for _ in range(BURST):
                    yield (address, f"user{user}@example.test", WRONG)
                yield (address, f"user{winner}@example.test", LOGIN_PASSWORD)
                for _ in range(self.ticks - BURST - 1):
                    yield None

        return plan()

    def note(self, params: dict[str, str]) -> str:
        whose = "another user" if params.get("account") == "other" else "the same user"
        return f"every 5 s a new address fails {BURST} logins, then logs in as {whose}"
