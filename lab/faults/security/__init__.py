"""The security section's faults: real changes to the emulator's Secrets, Deployments and
ServiceAccounts that the secret-hygiene checks (SEC-101..104) see.

One module per kind of fault; `lab faults` lists them with the checks they trip. Faults that
change a Deployment restore its spec on clear (lab/faults/_kubernetes.py).
"""

from __future__ import annotations

from lab.faults.security import secrets

__all__ = ["secrets"]
