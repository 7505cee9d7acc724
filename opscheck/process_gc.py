"""Python's cyclic garbage collector around a sweep process's start-up and exit.

Before its first check a sweep's process imports about 1,200 modules (pytest and its
plugins, the Kubernetes client, psycopg, redis, pydantic, the suite's sections): some
100,000 objects that live as long as the process. The collector walks all of them again
and again: in full passes while they are being created, in every full pass of the sweep,
and in the passes of the interpreter's own teardown at exit. Measured on the lab (a warm
full sweep in a new process, 2 cores), that was about 0.35 s of a 2.6 s sweep, with nothing
to collect.

So, in a process the core plugin starts (once per process):
- `pause()` when the plugin is imported: no collection while the plugins, conftests and
  sections are imported and configured; reference counting still frees what is dropped;
- `settle()` when the first session starts (or ends, if it never starts): what exists then
  is frozen (moved where the collector no longer looks; it lives as long as the process
  anyway) and the collector is on again, so the sweep's own collections look only at what
  the sweep allocates;
- at exit everything is frozen, so the teardown frees objects by reference count without
  full passes. The reports, the audit log and the Lease are written and closed before
  then (`pytest_unconfigure`); standard output and error are flushed by the interpreter
  as always.

`opscheck-sweeper` runs sweep after sweep in one process: between two sweeps it calls
`between_sweeps()`, which looks at everything once (frozen objects included, so nothing a
sweep left in a cycle is kept) and freezes what survives, so the next sweep's collections
again look only at what that sweep allocates.
"""

from __future__ import annotations

import atexit
import gc

_state = {"paused": False, "settled": False}


def pause() -> None:
    """Turn the collector off until `settle()`, once per process (only if it was on)."""
    if _state["settled"] or _state["paused"] or not gc.isenabled():
        return
    gc.disable()
    _state["paused"] = True
    atexit.register(gc.freeze)


def settle() -> None:
    """Freeze what the start-up created and turn the collector back on; a no-op after the
    first call, or where `pause()` did not turn it off."""
    if not _state["paused"] or _state["settled"]:
        return
    _state["settled"] = True
    gc.freeze()
    gc.enable()


def between_sweeps() -> None:
    """A full collection of everything, then freeze the survivors (`opscheck-sweeper`)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
