"""The errors section's faults: what makes the API err, and where its errors show.

One module per kind of fault; `lab faults` lists them with the checks they trip. Faults that
change the API Deployment restore its spec on clear, so a clear after a --fix (a flag
switched off, a rollback) leaves the lab as it was.
"""

from __future__ import annotations

from lab.faults.errors import dependencies, logs, memory, responses

__all__ = ["dependencies", "logs", "memory", "responses"]
