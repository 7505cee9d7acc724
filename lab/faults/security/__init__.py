"""The security section's faults: real changes to the emulator's Secrets, Deployments and
ServiceAccounts that the secret-hygiene checks (SEC-101..104) see, and real attacks on the
API's login endpoint for the login checks (SEC-111..114), and scanner traffic through
the API's Service for the request checks (SEC-121, SEC-122).

One module per kind of fault; `lab faults` lists them with the checks they trip. Faults that
change a Deployment restore its spec on clear (lab/faults/_kubernetes.py).
"""

from __future__ import annotations

from lab.faults.security import logins, requests, secrets

__all__ = ["logins", "requests", "secrets"]
