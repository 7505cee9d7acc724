"""Timings of the lab's lifecycle: `lab up` cold and warm, `lab down`, `lab reset`, the demo.

    .venv/bin/python bench/bench_lab.py [--skip-demo] [--runs 3]

`lab reset` (medians of --runs) is timed after a read-only sweep (`pytest checks -m
database`, which takes and releases its sweep Lease), after a fault outside the cluster
(dead-tuples) and after one the emulator's hooks made (cpu-hot, which re-seeds the cluster
and so replaces every pod). The suite's own tests reset the lab after every fault.

Cold = a fresh state dir (initdb, schema and seed included); warm = the data
dir exists and the lab was down. Each lab runs on free ports in a temp state
dir, so a lab already running on the default ports is not touched.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab.processes import free_port
from lab.testing import LabHandle, make_state_dir, stop_and_remove

ROOT = Path(__file__).resolve().parent.parent


def timed(state_dir: Path, *args: str) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "lab", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0 and args[0] != "demo":
        raise SystemExit(f"lab {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    if args[0] == "demo":
        print(f"  demo exit code {result.returncode} (0: the final sweep is green)")
    return elapsed


def sweep(handle: LabHandle) -> None:
    """`pytest checks -m database` against the lab, in its own process."""
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, **handle.env, "LAB_STATE_DIR": str(handle.state_dir)}
        env["OPSCHECK_STATE_DIR"] = state
        subprocess.run(
            [sys.executable, "-m", "pytest", "checks", "-m", "database", "-q",
             "-p", "no:cacheprovider", "--reports-dir", f"{state}/reports"],
            cwd=ROOT, env=env, capture_output=True, timeout=300, check=False,
        )  # fmt: skip


def reset_after(handle: LabHandle, runs: int, before: str | None) -> float:
    """Median seconds of `lab reset` after a sweep (before=None) or after a fault."""
    times = []
    for _ in range(runs):
        if before is None:
            sweep(handle)
        else:
            handle.inject(before)
        started = time.monotonic()
        handle.reset()
        times.append(time.monotonic() - started)
    return statistics.median(times)


def ports() -> list[str]:
    flags = []
    for name in ("postgres", "redis", "api", "thirdparty", "k8s"):
        flags += [f"--{name}-port", str(free_port())]
    return flags


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    state_dir = make_state_dir()
    try:
        cold = timed(state_dir, "up", *ports())
        down = timed(state_dir, "down")
        warm = timed(state_dir, "up")
        handle = LabHandle(state_dir)
        handle.reset()  # from here each reset starts from a settled, seeded lab
        resets = {
            "after a read-only sweep": reset_after(handle, args.runs, None),
            "after dead-tuples": reset_after(handle, args.runs, "dead-tuples"),
            "after cpu-hot (re-seeds)": reset_after(handle, args.runs, "cpu-hot"),
        }
        down_warm = timed(state_dir, "down")
        print(f"lab up, cold (initdb + seed): {cold:6.2f} s")
        print(f"lab down:                     {down:6.2f} s")
        print(f"lab up, warm (data dir kept): {warm:6.2f} s")
        for case, seconds in resets.items():
            print(f"lab reset, {case + ':':<26}{seconds:6.2f} s  (median of {args.runs})")
        print(f"lab down (after warm up):     {down_warm:6.2f} s")
        if not args.skip_demo:
            demo = timed(state_dir, "demo", "--down-after")
            print(f"lab demo end to end:          {demo:6.2f} s")
    finally:
        stop_and_remove(state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
