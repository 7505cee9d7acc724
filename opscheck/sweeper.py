"""`opscheck-sweeper`: scheduled sweeps from one resident process.

A sweep started by cron or a CronJob is a new Python process each time: before its first
check runs it has imported pytest, its plugins, the Kubernetes client, psycopg, redis and
pydantic, and read its configuration (about 0.9 s on two cores), and it tears all of that
down again at exit. For a sweep every minute that start-up is most of the cost. The
sweeper pays it once: it runs the same sweep (`pytest.main` with the same arguments, so
the same plugins, profile, reports, Lease and lock) every `--every` seconds in one process,
and each later sweep costs what its checks cost.

    opscheck-sweeper --every 60 -- checks --env production -q

Each sweep is a full pytest session, so nothing is carried from one to the next but what
a sweep records in its reports directory anyway (the previous samples a warm sweep starts
its windows from). The interval is measured from one sweep's start to the next; a sweep
that takes longer than the interval is followed at once by the next, never overlapped.

It only looks: `--fix` is refused (a fix is an incident's decision, made by a person
running pytest). SIGTERM or SIGINT ends it: a sweep in progress is interrupted as pytest
interrupts one (its Lease and lock are released), and the sweeper exits 0. With
`--count N` it stops after N sweeps and exits with the last sweep's code. A usage or
configuration error in the first sweep ends it at once with exit code 4; later sweeps that
cannot run (another runner holds the Lease, say) are reported and the schedule goes on.
After each sweep one line on stderr says its exit code, duration and the process's memory.
"""

from __future__ import annotations

import argparse
import resource
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

import pytest

from opscheck import process_gc
from opscheck.arguments import joined

REFUSED = ("--fix", "--fix-only", "--allow-destructive")
PREFIX = "opscheck-sweeper"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds, not {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, not {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PREFIX,
        usage=f"{PREFIX} --every SECONDS [--count N] [-- PYTEST_ARGS ...]",
        description="Run the same sweep every --every seconds from one resident process.",
        epilog="Arguments after -- go to pytest (default: checks). --fix is refused.",
    )
    p.add_argument("--every", type=_seconds, required=True, help="seconds between sweep starts")
    p.add_argument(
        "--count", type=_count, default=0, help="stop after this many sweeps (0: until stopped)"
    )
    return p


def split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the sweeper's own arguments, pytest's): pytest's come after `--`."""
    argv = list(argv)
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def refused(pytest_args: Sequence[str]) -> str | None:
    for token in pytest_args:
        if token == "--":
            break
        name = token.split("=", 1)[0]
        if name in REFUSED:
            return f"{name} is refused: the sweeper only looks; run pytest --fix yourself"
    return None


class Stop(Exception):
    """SIGTERM arrived between sweeps."""


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _meaning(code: int) -> str:
    try:
        return pytest.ExitCode(code).name
    except ValueError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    own, pytest_args = split(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(own)
    if problem := refused(pytest_args):
        print(f"{PREFIX}: {problem}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    # In one process pytest cannot re-run itself to read `--option VALUE` (invocation.py):
    # hand it the `--option=VALUE` form it reads the same way at every stage.
    pytest_args = joined(pytest_args or ["checks"])
    state = {"sweeping": False, "stopped": ""}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        state["stopped"] = signal.Signals(signum).name
        if state["sweeping"]:
            raise KeyboardInterrupt  # pytest ends the session as interrupted and cleans up
        raise Stop

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sweeps, code = 0, 0
    try:
        while True:
            started = time.monotonic()
            sweeps += 1
            state["sweeping"] = True
            try:
                code = int(pytest.main(pytest_args))
            except Exception as exc:
                if not state["stopped"]:
                    raise
                # The signal's KeyboardInterrupt landed in a frame without a line number,
                # and pytest failed while describing it (its traceback code subtracts from
                # a None tb_lineno). The session had still finished and unconfigured (Lease
                # and lock released): it was interrupted, and says so in one line.
                print(
                    f"{PREFIX}: pytest could not report the interruption ({exc!r})", file=sys.stderr
                )
                code = int(pytest.ExitCode.INTERRUPTED)
            finally:
                state["sweeping"] = False
            took = time.monotonic() - started
            print(
                f"{PREFIX}: sweep {sweeps}: exit {code} ({_meaning(code)}) in {took:.2f} s, "
                f"peak RSS {_rss_mib():.0f} MiB",
                file=sys.stderr,
                flush=True,
            )
            if state["stopped"]:
                break
            if sweeps == 1 and code == pytest.ExitCode.USAGE_ERROR:
                print(f"{PREFIX}: the first sweep could not run; stopping", file=sys.stderr)
                return code
            if args.count and sweeps >= args.count:
                return code
            process_gc.between_sweeps()  # a full collection between sweeps, not inside one
            time.sleep(max(0.0, started + args.every - time.monotonic()))
    except (Stop, KeyboardInterrupt):  # a signal between sweeps
        pass
    print(f"{PREFIX}: stopped by {state['stopped']} after {sweeps} sweep(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
