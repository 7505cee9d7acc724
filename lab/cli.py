"""The `lab` command: start, inspect, break and stop the local RoleRabbit lab.

    lab up | status | down | inject FAULT [--clear] [--param k=v] | faults [--json] | reset
        | env [--profile NAME] | demo

Global option `--state-dir DIR` (default: $LAB_STATE_DIR, else `.lab/` in the
repository root): all of a lab's state lives there, except PostgreSQL's data when
the `postgres` OS user cannot enter the state dir (run as root from a checkout in a
0700 home): it then lives in <temp dir>/rolerabbit-lab-pg-<hash>/data, linked from
<state dir>/postgres/data, and `lab status` says so. Ports and rates come from the
`lab up` flags, else the LAB_* variables (LAB_POSTGRES_PORT, ...), else what the
last `lab up` saved, else the defaults. Expected failures print an actionable
message and exit 1, never a traceback.

The lab's profile (`lab` for the suite, written by `lab up`) judges in seconds what
the runbook judges in minutes or hours (lab/outputs.py); each fault in `lab faults`
trips exactly the checks listed, under that profile, when its section is swept
right after `lab inject`, and `lab reset` returns the lab to a green sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from lab import lifecycle
from lab.control import ControlClient
from lab.errors import LabError, actionable
from lab.outputs import export_lines, read_env_file, write_named_profiles
from lab.paths import StatePaths
from lab.settings import PORT_NAMES, LabSettings, default_state_dir, env_overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="default: $LAB_STATE_DIR or <repo>/.lab"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser(
        "up",
        help="start the lab (a no-op if it runs)",
        description="Start the lab (a no-op if it runs). Each value comes from its flag, "
        "else its LAB_* variable, else the value the last `lab up` saved in the state dir, "
        "else the default.",
    )
    for name in PORT_NAMES:
        variable = f"LAB_{name.upper()}_PORT"
        default = getattr(LabSettings, f"{name}_port")
        up.add_argument(
            f"--{name}-port", type=int, default=None, help=f"default: ${variable}, else {default}"
        )
    up.add_argument(
        "--producer-rate",
        type=float,
        default=None,
        help="jobs/s (default: $LAB_PRODUCER_RATE, else 2)",
    )
    up.add_argument(
        "--load-rate",
        type=float,
        default=None,
        help="API requests/s (default: $LAB_LOAD_RATE, else 10)",
    )
    up.add_argument("--no-kubernetes", action="store_true", help="no emulator; static workers")
    sub.add_parser(
        "status", help="each service's pid, port and health, and where PostgreSQL keeps its data"
    )
    sub.add_parser("down", help="stop everything")
    inject = sub.add_parser("inject", help="inject (or --clear) a fault")
    inject.add_argument("fault")
    inject.add_argument("--clear", action="store_true")
    inject.add_argument("--param", action="append", default=[], metavar="K=V")
    faults = sub.add_parser(
        "faults",
        help="list faults with their section and the checks they trip",
        description="Every fault, its runbook section, the checks it trips (a sweep of its "
        "section under the lab profile right after `lab inject` fails exactly those; the "
        "others pass, except those it leaves unjudged) and what it does.",
    )
    faults.add_argument(
        "--json",
        action="store_true",
        help="one JSON array: name, section, trips (the check ids it fails under the lab "
        "profile), unjudged (the ids it leaves skipped or inconclusive), description",
    )
    sub.add_parser(
        "reset",
        help="clear every fault and return once the lab is healthy again (a green sweep)",
    )
    env = sub.add_parser(
        "env",
        help="print export lines for kubectl/psql/redis-cli/curl (--profile NAME: see its help)",
        description="Print export lines (KUBECONFIG, DATABASE_URL, DATABASE_FIXER_URL, "
        "REDIS_URL, ROLERABBIT_API_URL, and REGISTRY_ENDPOINTS: ghcr.io=the lab's registry) for "
        "the runbook's own tools: "
        'eval "$(lab env)". The suite\'s `lab` profile always takes these secrets from the '
        "lab's env file, whatever the shell holds.",
    )
    env.add_argument(
        "--profile",
        metavar="NAME",
        help="also write the lab's profile under NAME into <state dir>/profiles.yaml and "
        "export ROLERABBIT_CONFIG and ROLERABBIT_ENV for it. Unlike `lab`, profile NAME "
        "takes its secrets from the shell, so you can try a wrong one against the lab: "
        'eval "$(lab env --profile try)"; export DATABASE_URL=postgresql://'
        "rolerabbit_monitor:wrong@...; pytest -k DB-101",
    )
    demo = sub.add_parser("demo", help="up, inject faults, sweep, fix, sweep again")
    demo.add_argument("--down-after", action="store_true", help="stop the lab at the end")
    return parser


def settings_for(args: argparse.Namespace) -> LabSettings:
    state_dir = (args.state_dir or default_state_dir()).resolve()
    # Flags beat LAB_* variables beat the saved settings beat the defaults: a flag that was
    # not given (None) must leave the variable's value alone.
    overrides: dict[str, Any] = env_overrides()
    if args.command == "up":
        flags: dict[str, Any] = {
            f"{name}_port": getattr(args, f"{name}_port") for name in PORT_NAMES
        }
        flags["producer_rate"] = args.producer_rate
        flags["load_rate"] = args.load_rate
        flags["kubernetes"] = False if args.no_kubernetes else None
        overrides.update({key: value for key, value in flags.items() if value is not None})
    return LabSettings.load(state_dir).with_overrides(overrides)


def named_profile_lines(settings: LabSettings, name: str) -> str:
    """Write profile NAME (see outputs.write_named_profiles); the lines that select it."""
    path = write_named_profiles(StatePaths(settings.state_dir), settings, add=name)
    return (
        f"# profile {name!r} ({path}): the lab's, with secrets from this shell's variables\n"
        + export_lines({"ROLERABBIT_CONFIG": str(path), "ROLERABBIT_ENV": name})
    )


def parse_params(raw: list[str]) -> dict[str, str]:
    params = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise LabError(f"--param {item!r} is not KEY=VALUE (example: --param share=0.3)")
        params[key] = value
    return params


def print_api_pods(status: dict[str, Any]) -> None:
    """One line per API pod process: the balancer (service `api`) spreads requests over them."""
    pods = status.get("api_pods") or []
    print(f"  api pods: {len(pods)} behind the balancer (service api), round robin per request")
    for pod in pods:
        state = "serving" if pod["serving"] else ("starting" if pod["running"] else "DOWN")
        print(f"    {pod['pod']:<40} pid {pod['pid'] or '-':>7}  port {pod['port']:>5}  {state}")


def print_status(status: dict[str, Any] | None, state_dir: Path) -> int:
    if status is None:
        print(f"the lab is down (state dir {state_dir}); start it: lab up")
        return 1
    print(
        f"lab {status['phase']} - supervisor pid {status['supervisor_pid']}, "
        f"state dir {status['state_dir']}"
    )
    print(f"  {'SERVICE':<28} {'PID':>8} {'PORT':>6}  HEALTH")
    for svc in [*status["services"], *status["workers"]]:
        health = (
            "healthy" if svc["healthy"] else ("stopped (fault)" if not svc["wanted"] else "DOWN")
        )
        print(f"  {svc['name']:<28} {svc['pid'] or '-':>8} {svc['port'] or '-':>6}  {health}")
    print_api_pods(status)
    bridge = status["bridge"]
    print(
        f"  workers: {len(status['workers'])} ({bridge['mode']} mode)"
        + (f" - {bridge['error']}" if bridge["error"] else "")
    )
    faults = status["faults"]
    print(f"  faults: {', '.join(faults) if faults else 'none'}")
    data = status.get("postgres_data") or {}
    if data.get("linked_from"):
        print(
            f"  postgres data: {data['path']} (outside the state dir, which the postgres OS "
            f"user cannot reach; {data['linked_from']} links to it)"
        )
    elif data:
        print(f"  postgres data: {data['path']}")
    return 0


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    state_dir = settings.state_dir
    if args.command == "up":
        lifecycle.up(settings)
        return 0
    if args.command == "down":
        lifecycle.down(state_dir)
        return 0
    if args.command == "status":
        return print_status(lifecycle.status(state_dir), state_dir)
    if args.command == "env":
        env_file = StatePaths(state_dir).env
        if not env_file.exists():
            raise actionable(
                "no env file: the lab has not been started in this state dir.",
                str(env_file),
                ["start it: lab up", f"or pass the right --state-dir (now {state_dir})"],
            )
        if lifecycle.supervisor_running(StatePaths(state_dir)) is None:
            print("# warning: the lab is not running; start it: lab up", file=sys.stderr)
        lines = export_lines(read_env_file(str(env_file)))
        if args.profile:  # written first: a bad name prints nothing to eval
            lines += named_profile_lines(settings, args.profile)
        sys.stdout.write(lines)
        return 0
    if args.command == "demo":
        from lab.demo import run_demo

        return run_demo(settings, down_after=args.down_after)
    client = ControlClient(state_dir)
    if lifecycle.supervisor_running(StatePaths(state_dir)) is None and args.command != "faults":
        raise actionable(
            "the lab is not running.",
            f"the supervisor pid file in {state_dir}",
            ["start it: lab up"],
        )
    if args.command == "faults":
        from lab.faults.framework import load_fault_modules

        catalogue = load_fault_modules().all()
        if args.json:
            print(json.dumps([fault.describe() for fault in catalogue], indent=2))
            return 0
        for fault in catalogue:
            unjudged = f" Leaves unjudged: {', '.join(fault.unjudged)}." if fault.unjudged else ""
            print(
                f"{fault.name:<24} {fault.section:<12} trips "
                f"{', '.join(fault.trips) or 'nothing':<32} {fault.description}{unjudged}"
            )
        return 0
    if args.command == "inject":
        if args.clear:
            result = client.call("POST", "/clear", {"name": args.fault}, timeout=60)
            print(
                f"cleared {args.fault}" + ("" if result["was_active"] else " (it was not active)")
            )
        else:
            body = {"name": args.fault, "params": parse_params(args.param)}
            result = client.call("POST", "/inject", body, timeout=60)
            print(
                f"injected {args.fault}: {result['note'] or ''} "
                f"(should trip {', '.join(result['trips']) or 'nothing'})"
            )
        return 0
    if args.command == "reset":
        result = client.call("POST", "/reset", timeout=90)
        print(f"lab reset; cleared faults: {', '.join(result['cleared']) or 'none'}")
        return 0
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`lab status | head`): stop quietly, as cat does. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by it


if __name__ == "__main__":
    sys.exit(main())
