"""The security section's faults: real changes to the emulator's Secrets, Deployments and
ServiceAccounts that the secret-hygiene checks (SEC-101..104) see, and real attacks on the
API's login endpoint for the login checks (SEC-111..114), scanner traffic through
the API's Service for the request checks (SEC-121, SEC-122), a surge of it for the
traffic check (SEC-131), and a mass update of portfolios by a role that is not the
application's, from an unexpected address, for the database checks (SEC-141..143).

One module per kind of fault; `lab faults` lists them with the checks they trip. Faults that
change a Deployment restore its spec on clear (lab/faults/_kubernetes.py).
"""

from __future__ import annotations

from lab.faults.security import data, logins, requests, secrets, traffic

__all__ = ["data", "logins", "requests", "secrets", "traffic"]
