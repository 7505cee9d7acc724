"""One sweep at a time across machines: the sweep takes its namespace's Lease.

The local lock (opscheck/sweep_lock.py) keeps two sweeps on one machine apart; a CronJob in
the cluster and a CI job elsewhere share no machine, but they share the namespace. A sweep
of a profile with Kubernetes takes the Lease `sweep_lease.name` there (the protocol:
opscheck/lease_holder.py) and holds it to the end of the run; a runner that dies stops
renewing, and the next sweep after its expiry takes over.

A dry run (--fix --dry-run) only reads the Lease: it refuses while another runner holds it
(its plan would describe a target that runner is changing), and writes nothing itself, so
that a dry run changes nothing in the cluster.
"""

from __future__ import annotations

import os
import socket
import sys

import pytest

from opscheck.environment import Environment
from opscheck.kube_access import KubeUnreachable, connect
from opscheck.lease_holder import LeaseHeld, LeaseUnavailable, SweepLeaseHolder
from opscheck.settings.sweep_lease import SweepLease


def runner_identity(run_id: str) -> str:
    """Who holds the Lease: this host (a pod's name, in a pod), pid and run id. No secret."""
    return f"{socket.gethostname()}/{os.getpid()}/{run_id}"


class SweepLeasePlugin:
    """The run's Lease as a plugin object: it reports at the end and releases on exit."""

    def __init__(self, holder: SweepLeaseHolder) -> None:
        self.holder = holder

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        h = self.holder
        if h.lost:
            terminalreporter.write_line(f"WARNING sweep Lease {h.ref} {h.lost}", yellow=True)
        elif h.renew_problem:
            terminalreporter.write_line(
                f"WARNING sweep Lease {h.ref}: a renewal failed: {h.renew_problem}", yellow=True
            )

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        problem = self.holder.release()
        if problem:
            sys.stderr.write(f"WARNING {problem}\n")


def take_sweep_lease(
    config: pytest.Config, environment: Environment, run_id: str, *, dry_run: bool
) -> None:
    """Take the namespace's sweep Lease for this run, or stop the run (UsageError).

    Nothing for a profile without Kubernetes (absent, or the Lease disabled), or one that
    cannot be used at all (its checks say why).
    """
    profile = environment.profile
    settings = profile.sweep_lease
    if not settings.enabled or "kubernetes" in profile.absent or environment.problem:
        return
    namespace = profile.kubernetes.namespace
    ref = f"{namespace}/{settings.name}"
    timeouts = (profile.timeouts.connect_s, profile.timeouts.read_s)
    try:
        api, where = connect(environment)
    except KubeUnreachable as exc:
        _unavailable(settings, ref, str(exc))
        return
    identity = runner_identity(run_id)
    holder = SweepLeaseHolder(api, where, namespace, settings, identity, environment.name, timeouts)
    try:
        if dry_run:
            holder.ensure_free()
        else:
            holder.acquire()
    except LeaseHeld as exc:
        api.close()
        raise pytest.UsageError(str(exc)) from None
    except LeaseUnavailable as exc:
        api.close()
        _unavailable(settings, ref, str(exc))
        return
    if dry_run:
        api.close()
        return
    holder.start_renewing()
    config.pluginmanager.register(SweepLeasePlugin(holder), "opscheck-sweep-lease")


def _unavailable(settings: SweepLease, ref: str, reason: str) -> None:
    """Stop the run, or say that only the local lock guards it (sweep_lease.if_unavailable)."""
    if settings.if_unavailable == "stop":
        raise pytest.UsageError(
            f"cannot take the sweep Lease {ref}: {reason}; sweep refused "
            "(sweep_lease.if_unavailable: stop)"
        )
    sys.stderr.write(
        f"WARNING sweep Lease {ref} not taken ({reason}): only this machine's lock keeps "
        "other sweeps of this target out\n"
    )
