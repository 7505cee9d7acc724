"""The fault framework: what a fault is, what it may do to the lab, and the registry.

A fault is a class with a stable `name`, the runbook `section` whose folder holds it, the
check ids it `trips`, a `description`, and `inject`/`clear` methods that act on the *real*
services through the `LabControl` handed to them (stop a process, hold connections open,
flip a switch the API honours, call a Kubernetes fault hook). Faults never edit the numbers
the suite reads.

`trips` is a promise, kept under the lab's own profile (lab/outputs.py): a sweep of the
fault's section right after `inject` fails exactly those checks, and every other check of
the section passes, except the `unjudged` ones, which the fault leaves without a verdict
(skipped or inconclusive, e.g. a rollout still in its settle window). Where a check needs
the state to be older than a lab threshold, `inject` waits (bounded) until it is, and the
description says so. tests/lab/fault_matrix.py holds every fault to it.

Faults run inside the supervisor, so resources they hold (connections, a running query)
outlive the `lab inject` command that created them. One instance per supervisor: keep
per-injection state on `self`.

Add a fault with a class decorated by `@register` in `lab/faults/<section>` (a module, or a
module of that package); a new section is a new module or package there.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import psycopg
import redis

from lab.errors import LabError
from lab.services.base import LabContext


def fault_sections() -> tuple[str, ...]:
    """The runbook sections with faults: every module or package of lab.faults but this one
    and the underscore modules (what several sections share), in name order."""
    here = Path(__file__)
    return tuple(
        sorted(
            m.name
            for m in pkgutil.iter_modules([str(here.parent)])
            if m.name != here.stem and not m.name.startswith("_")
        )
    )


SECTIONS = fault_sections()


class LabControl(Protocol):
    """What a fault may do to the lab (implemented by the supervisor)."""

    ctx: LabContext

    def stop_service(self, name: str) -> None:
        """Stop a service and keep it stopped (no automatic restart)."""

    def start_service(self, name: str) -> None:
        """Start a stopped service again and wait until it answers."""

    def set_switch(self, key: str, value: Any) -> None:
        """Set (None: remove) a switch the lab's processes honour, see lab/switches.py."""

    def connect_db(self, role: str = "superuser", **kwargs: Any) -> psycopg.Connection[Any]:
        """A new connection to the lab database as superuser/app/monitor/fixer."""

    def redis_client(self) -> redis.Redis:
        """A client for the lab's Redis."""

    @property
    def kubernetes_available(self) -> bool:
        """True when the Kubernetes emulator runs."""

    def k8s_hook(self, name: str, body: dict[str, Any]) -> Any:
        """POST /_lab/hooks/<name> on the emulator; returns its JSON answer."""

    def api_pods(self) -> dict[str, int]:
        """The Ready API pods whose processes answer: pod -> its process's loopback port."""

    def set_static_workers_stopped(self, stopped: bool) -> None:
        """Without the emulator: stop (or restart) every worker process."""

    def running_workers(self) -> set[str]:
        """Apply the emulator's pods to the processes now (after any reconcile in
        progress, which may have listed them before a hook) and return the pods whose
        worker process runs."""


class Fault:
    """Base class of every lab fault; subclasses set the class attributes."""

    name: ClassVar[str]
    section: ClassVar[str]
    trips: ClassVar[tuple[str, ...]]
    description: ClassVar[str]
    # Checks of the section the fault leaves without a verdict (skipped or inconclusive).
    unjudged: ClassVar[tuple[str, ...]] = ()
    # Checks the fault fails or not depending on timing, as the real failure would (a
    # worker stopped mid-job leaves that job stalled; a hung one's lock expires after 30 s).
    may_trip: ClassVar[tuple[str, ...]] = ()

    def inject(self, lab: LabControl, **params: str) -> str | None:
        """Cause the fault for real; return an optional one-line note."""
        raise NotImplementedError

    def clear(self, lab: LabControl) -> None:
        """Undo the fault and restore the healthy state (must be idempotent)."""
        raise NotImplementedError

    def reset(self, lab: LabControl) -> None:
        """`lab reset`: clear, and also remove what a clear leaves on purpose (the damage a
        remediation is tested on, such as failed jobs), so the next sweep is green."""
        self.clear(lab)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "section": cls.section,
            "trips": list(cls.trips),
            "unjudged": list(cls.unjudged),
            "description": cls.description,
        }


class FaultRegistry:
    """Fault classes by stable name. Swappable in tests: build a fresh one."""

    def __init__(self) -> None:
        self._faults: dict[str, type[Fault]] = {}

    def add(self, fault: type[Fault]) -> type[Fault]:
        for attr in ("name", "section", "trips", "description"):
            if not hasattr(fault, attr):
                raise TypeError(f"fault {fault.__name__} lacks the class attribute {attr!r}")
        if fault.section not in SECTIONS:
            raise TypeError(f"fault {fault.name}: section {fault.section!r} not in {SECTIONS}")
        home = _section_of(fault.__module__)
        if home is not None and home != fault.section:
            raise TypeError(
                f"fault {fault.name}: section {fault.section!r}, but it lives in lab/faults/{home}"
            )
        if set(fault.trips) & set(fault.unjudged):
            raise TypeError(f"fault {fault.name}: a check cannot be both tripped and unjudged")
        existing = self._faults.get(fault.name)
        if existing is not None and existing is not fault:
            raise TypeError(f"fault name {fault.name!r} registered twice")
        self._faults[fault.name] = fault
        return fault

    def get(self, name: str) -> type[Fault]:
        try:
            return self._faults[name]
        except KeyError:
            known = ", ".join(sorted(self._faults))
            raise LabError(
                f"unknown fault {name!r}. Known faults: {known}. See: lab faults"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._faults)

    def all(self) -> list[type[Fault]]:
        return [self._faults[n] for n in sorted(self._faults, key=self._sort_key)]

    def _sort_key(self, name: str) -> tuple[int, str]:
        return (SECTIONS.index(self._faults[name].section), name)


REGISTRY = FaultRegistry()


def register(fault: type[Fault]) -> type[Fault]:
    """Class decorator: add a fault to the lab's registry."""
    return REGISTRY.add(fault)


def _section_of(module: str) -> str | None:
    """The section whose faults a module of lab.faults holds (None: not a section's)."""
    parts = module.split(".")
    if parts[:2] != ["lab", "faults"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in SECTIONS else None


def load_fault_modules() -> FaultRegistry:
    """Import every section's fault module (or package) so their @register calls run."""
    for section in SECTIONS:
        importlib.import_module(f"lab.faults.{section}")
    return REGISTRY


def wait_until(
    what: str, test: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.1
) -> None:
    """Poll `test()` until true: a fault's bounded wait for its own effect. A LabError names
    what never happened."""
    deadline = time.monotonic() + timeout_s
    while not test():
        if time.monotonic() >= deadline:
            raise LabError(f"{what} did not happen within {timeout_s:g}s")
        time.sleep(interval_s)


def float_param(params: dict[str, str], key: str, default: float) -> float:
    """A numeric `--param key=value`, with an actionable error if it is not a number."""
    raw = params.get(key)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise LabError(
            f"--param {key}={raw!r} is not a number (example: --param {key}={default})"
        ) from None
