"""`-n N` on a sweep: xdist workers only where they gain.

A sweep of one environment reads it through per-process state: one LIST per Kubernetes
type (the snapshot store), one metrics window, one PodMetrics sampler, one queue sample.
Each xdist worker is a process of its own, so N workers repeat those reads and windows N
times, and pay the interpreter, imports and connections N times; on the lab a full sweep
with `-n 2` took longer than the serial one (bench/bench_sweep.py prints both). So a sweep
runs serially unless `--parallel-sweep` asks to keep the workers, and the run's header says
which it did. Workers pay off where the checks themselves wait, not the samplers: many
slow or unreachable targets, each waiting out its own timeout. The suite's own tests
(tests/) are not sweeps and keep their workers.
"""

from __future__ import annotations

import pytest

from opscheck.keys import WORKERS_DROPPED
from opscheck.sweep_lock import sweeps_checks


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("opscheck").addoption(
        "--parallel-sweep",
        dest="opscheck_parallel_sweep",
        action="store_true",
        help="keep -n's xdist workers for a sweep (by default a sweep of one environment "
        "runs serially: each worker would repeat the sweep's reads and windows)",
    )


def distributed(config: pytest.Config) -> bool:
    """Whether xdist was asked to distribute this run (its own test, after -n resolved)."""
    return config.getoption("dist", "no") != "no" and bool(config.getoption("tx", None))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before xdist's own configure starts the workers: drop them for a sweep."""
    if hasattr(config, "workerinput") or not distributed(config):
        return
    if config.option.opscheck_parallel_sweep or not sweeps_checks(config):
        return
    config.stash[WORKERS_DROPPED] = len(config.getoption("tx"))
    config.option.numprocesses = 0
    config.option.dist = "no"
    config.option.tx = []


def dropped_note(config: pytest.Config) -> str | None:
    dropped = config.stash.get(WORKERS_DROPPED, None)
    if dropped is None:
        return None
    return (
        f"workers: -n {dropped} not used for this sweep, it runs serially (each worker would "
        "repeat the sweep's reads and windows); --parallel-sweep keeps them"
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    return dropped_note(config)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """-q shows no header: say it at the end instead."""
    note = dropped_note(terminalreporter.config)
    if note and terminalreporter.verbosity < 0:
        terminalreporter.write_line(note)
