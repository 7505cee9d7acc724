"""The database section's faults: real sessions, real queries, real dead tuples.

One module per kind of fault (support.py is what they share); `lab faults` lists them with
the checks they trip. Ages count once past the lab profile's seconds (lab/outputs.py): those
faults return from inject once their state is that old. Every clear restores exactly what
its inject changed and is harmless when repeated.
"""

from __future__ import annotations

from lab.faults.database import (
    bystanders,
    configuration,
    maintenance,
    outage,
    queries,
    sessions,
)

__all__ = ["bystanders", "configuration", "maintenance", "outage", "queries", "sessions"]
