"""The queue section's faults: each acts on the real Redis or the real BullMQ queue.

One module per kind of fault (support.py is what they share); `lab faults` lists them with
the checks they trip. A clear removes the cause and leaves the damage a remediation is
tested on (failed or stalled jobs); `lab reset` removes that too (Fault.reset).
"""

from __future__ import annotations

from lab.faults.queue import jobs, server, workers

__all__ = ["jobs", "server", "workers"]
