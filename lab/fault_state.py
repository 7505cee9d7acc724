"""The faults currently injected in a running lab (lives in the supervisor).

Injecting an active fault again re-injects it with the new parameters; clearing
an inactive fault is a no-op. The active set is mirrored in `faults.json`
for people reading the state dir.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from lab.errors import LabError
from lab.faults.framework import Fault, LabControl, load_fault_modules

if TYPE_CHECKING:
    from lab.supervisor import Supervisor


class ActiveFaults:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.registry = load_fault_modules()
        self._instances: dict[str, Fault] = {}
        self._active: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._injected = False  # since the last take_injected(): see Supervisor.reset

    @property
    def lab(self) -> LabControl:
        return self.supervisor

    def catalogue(self) -> list[dict[str, Any]]:
        return [fault.describe() for fault in self.registry.all()]

    def _instance(self, name: str) -> Fault:
        if name not in self._instances:
            self._instances[name] = self.registry.get(name)()
        return self._instances[name]

    def take_injected(self) -> bool:
        """Whether a fault was injected since the last call (then the pods may have logged
        what the fault made them log)."""
        with self._lock:
            injected, self._injected = self._injected, False
            return injected

    def inject(self, name: str, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self._injected = True
            fault = self._instance(name)
            if name in self._active:
                fault.clear(self.lab)
                self._active.pop(name)
            try:
                note = fault.inject(self.lab, **{k: str(v) for k, v in params.items()})
            except LabError:
                raise
            except Exception as exc:
                # Half-injected: undo what we can, then report.
                try:
                    fault.clear(self.lab)
                except Exception as clear_exc:
                    print(f"clearing half-injected {name} failed: {clear_exc}", flush=True)
                raise LabError(f"injecting {name} failed: {type(exc).__name__}: {exc}") from exc
            self._active[name] = {"params": params, "since": time.time(), "note": note}
            self._save()
            return {"name": name, "note": note, "trips": list(fault.trips)}

    def clear(self, name: str) -> dict[str, Any]:
        with self._lock:
            fault = self._instance(name)
            was_active = self._active.pop(name, None) is not None
            fault.clear(self.lab)  # idempotent: also safe when not active
            self._save()
            return {"name": name, "was_active": was_active}

    def clear_all(self) -> list[str]:
        """`lab reset`: every active fault's reset (a clear that leaves no damage behind)."""
        cleared = []
        with self._lock:
            for name in list(self._active)[::-1]:
                self._active.pop(name)
                self._instance(name).reset(self.lab)
                cleared.append(name)
            self._save()
        return cleared

    def release_all(self) -> None:
        """On shutdown: forget active faults without clearing them.

        Everything they touched is about to stop, and the resources they hold
        (connections, threads) belong to the exiting supervisor; clearing would
        only restart services just to stop them again.
        """
        self._active.clear()
        self._save()

    def active(self) -> dict[str, dict[str, Any]]:
        return dict(self._active)

    def _save(self) -> None:
        self.supervisor.ctx.paths.faults.write_text(json.dumps(self._active, indent=2, default=str))
