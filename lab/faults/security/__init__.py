"""The security section's faults: real attacks on the API's login endpoint.

One module per kind of fault; `lab faults` lists them with the checks they trip.
"""

from __future__ import annotations

from lab.faults.security import logins

__all__ = ["logins"]
