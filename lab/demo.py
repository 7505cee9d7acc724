"""`lab demo`: watch the suite find the lab's faults and fix them.

Starts the lab (or reuses a running one), injects DEMO_FAULTS across several
runbook sections, runs the sweep (`python -m pytest` in the repository root),
runs it again with `--fix`, then a final sweep that should be green. Leaves
the lab running and says how to stop it. Exits non-zero unless the final
sweep is green.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

from lab import lifecycle
from lab.control import ControlClient
from lab.errors import LabError
from lab.settings import LabSettings, repo_root


@dataclass(frozen=True)
class DemoFault:
    """A fault the demo injects, what the sweep shows of it and what --fix does about it
    (README's demo table is generated from these and the faults' trips)."""

    name: str
    params: dict[str, str]
    shows: str
    fix: str


# One fault per runbook section, each with a remediation that --fix applies, so the final
# sweep can be green.
DEMO_FAULTS = (
    DemoFault(
        "bad-image",
        {},
        "new pods can't pull `app:v9.9.9`, the rollout is stuck",
        "DEP-R02 rolls back to the previous revision",
    ),
    DemoFault(
        "dead-tuples",
        {},
        "a bulk update left 50,000 dead rows in `portfolios`",
        "DB-R05 `VACUUM (ANALYZE)` on that table only",
    ),
    DemoFault(
        "worker-stopped",
        {},
        "the worker's pods crash-loop and jobs pile up; the deployment checks of the worker "
        "fail too",
        "DEP-R01 restarts the worker deployment (deployment checks run first); the queue "
        "checks then pass, or QUEUE-R01/R02 scale or restart the workers",
    ),
    DemoFault(
        "thirdparty-down",
        {"provider": "stripe"},
        "the Stripe status endpoint answers 503",
        "ERR-R01 sets `FEATURE_STRIPE_ENABLED=false`, waits for the rollout",
    ),
)
SWEEP_TIMEOUT = 35.0  # per sweep: the lab profile samples for seconds; a sweep takes about 10 s


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def sweep(settings: LabSettings, *extra: str) -> int:
    """One run of the suite against this lab; its output streams to the terminal."""
    env = {**os.environ, "LAB_STATE_DIR": str(settings.state_dir), "ROLERABBIT_ENV": "lab"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    print("$ " + " ".join(["python", *command[1:]]), flush=True)
    try:
        return subprocess.run(
            command, cwd=repo_root(), env=env, timeout=SWEEP_TIMEOUT, check=False
        ).returncode
    except subprocess.TimeoutExpired:
        print(f"the sweep did not finish within {SWEEP_TIMEOUT:.0f}s", flush=True)
        return 124


def run_demo(settings: LabSettings, *, down_after: bool = False) -> int:
    started = time.monotonic()
    banner("1/5 starting the lab")
    lifecycle.up(settings)
    client = ControlClient(settings.state_dir)
    client.call("POST", "/reset", timeout=90)
    banner("2/5 injecting faults")
    for fault in DEMO_FAULTS:
        name, params = fault.name, fault.params
        try:
            result = client.call("POST", "/inject", {"name": name, "params": params}, timeout=60)
        except LabError as exc:
            print(f"  {name}: could not inject ({exc})")
            continue
        print(
            f"  {name}: {result['note'] or 'injected'} (should trip {', '.join(result['trips'])})"
        )
    banner("3/5 sweep: what is wrong?")
    sweep(settings)
    banner("4/5 sweep with --fix: apply the remediations")
    sweep(settings, "--fix")
    banner("5/5 final sweep: is everything green?")
    final = sweep(settings)
    reports = repo_root() / "reports"
    print(f"\nreports: {reports} (JUnit, JSON, Allure results and the audit log of fixes)")
    elapsed = time.monotonic() - started
    if down_after:
        lifecycle.down(settings.state_dir)
        print("the lab is stopped.")
    else:
        print("the lab is still running: `lab status`, `lab env`; stop it with `lab down`.")
    if final == 0:
        print(f"demo finished in {elapsed:.0f}s: the final sweep is green.")
        return 0
    print(f"demo finished in {elapsed:.0f}s: the final sweep is NOT green (exit {final}).")
    return 1
