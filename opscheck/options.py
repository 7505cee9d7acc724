"""The command line: the suite's options, its markers, and which flag combinations make sense."""

from __future__ import annotations

import argparse
import os
from typing import Any

import pytest

from opscheck.sections import Severity

LEVELS = [s.value for s in Severity]


def positive_count(text: str, flag: str) -> int:
    """A whole number of at least 1, or a one-line usage error naming the flag."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{flag} wants a whole number of at least 1, not {text!r}")
    return value


# The options, in the order --help shows them: (flag, argparse keywords).
OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--env",
        dict(
            dest="opscheck_env",
            metavar="NAME",
            default=os.environ.get("ROLERABBIT_ENV", "lab"),
            help="environment profile to check (default: lab, or $ROLERABBIT_ENV)",
        ),
    ),
    (
        "--config",
        dict(
            dest="opscheck_config",
            metavar="PATH",
            default=None,
            help="profiles file (default: rolerabbit.yaml, or $ROLERABBIT_CONFIG)",
        ),
    ),
    (
        "--fix",
        dict(
            dest="opscheck_fix",
            action="store_true",
            help="apply the remediation of each failing check, then re-check",
        ),
    ),
    (
        "--dry-run",
        dict(
            dest="opscheck_dry_run",
            action="store_true",
            help="with --fix: print the exact actions and change nothing",
        ),
    ),
    (
        "--allow-destructive",
        dict(
            dest="opscheck_destructive",
            action="store_true",
            help="with --fix: allow remediations marked destructive",
        ),
    ),
    (
        "--fix-only",
        dict(
            dest="opscheck_fix_only",
            metavar="IDS",
            default="",
            help="with --fix: only these remediation ids (comma-separated)",
        ),
    ),
    (
        "--fail-on",
        dict(
            dest="opscheck_fail_on",
            metavar="LEVEL",
            default="low",
            choices=LEVELS,
            help="lowest severity that fails the run (default: low = any failure)",
        ),
    ),
    (
        "--inconclusive",
        dict(
            dest="opscheck_inconclusive",
            metavar="MODE",
            default=None,
            choices=["fail", "warn"],
            help="a check that could not judge: fail the run (default) or warn; "
            "default: the profile's `inconclusive` setting",
        ),
    ),
    (
        "--catalogue",
        dict(
            dest="opscheck_catalogue",
            action="store_true",
            help="list the selected checks (id, section, severity, remediation)",
        ),
    ),
    (
        "--reports-dir",
        dict(
            dest="opscheck_reports",
            metavar="DIR",
            default=None,
            help="where reports and the audit log go (default: reports/)",
        ),
    ),
    (
        "--evidence",
        dict(
            dest="opscheck_evidence",
            action="store_true",
            help="write each section's evidence bundle (logs, rows, findings, SHA256SUMS) and "
            "incident report under <reports-dir>/incidents/",
        ),
    ),
    (
        "--release",
        dict(
            dest="opscheck_release",
            metavar="IMAGE",
            default="",
            help="pre-deploy gate: the image about to be deployed (image[:tag|@digest]); "
            "its registry must hold it (pytest -m predeploy --release IMAGE)",
        ),
    ),
    (
        "--release-deployment",
        dict(
            dest="opscheck_release_deployment",
            metavar="NAME",
            default="",
            help="with --release: the Deployment the release replaces (default: the one "
            "running the same image repository)",
        ),
    ),
    (
        "--keep-runs",
        dict(
            dest="opscheck_keep_runs",
            metavar="N",
            default=20,
            type=lambda text: positive_count(text, "--keep-runs"),
            help="how many runs to keep under <reports-dir>/runs/ (default: 20); older runs "
            "are deleted when a sweep ends",
        ),
    ),
    (
        "--no-reports",
        dict(
            dest="opscheck_no_reports",
            action="store_true",
            help="do not write JUnit, Allure and JSON reports by default",
        ),
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("opscheck", "RoleRabbit runbook checks")
    for flag, keywords in OPTIONS:
        group.addoption(flag, **keywords)


def register_markers(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "severity(level): check severity, one of critical/high/medium/low; "
        "e.g. @pytest.mark.severity('critical')",
    )
    config.addinivalue_line(
        "markers", "check_id(id): the check's stable catalogue id, e.g. check_id('DB-102')"
    )
    config.addinivalue_line(
        "markers",
        "predeploy: a check that gates a deploy: what must hold before a release goes out; "
        "e.g. pytest -m predeploy --release ghcr.io/org/app:v2",
    )


def check_usage(config: pytest.Config) -> None:
    opt = config.option
    if not opt.opscheck_fix:
        for flag, on in (
            ("--dry-run", opt.opscheck_dry_run),
            ("--allow-destructive", opt.opscheck_destructive),
            ("--fix-only", opt.opscheck_fix_only),
        ):
            if on:
                raise pytest.UsageError(f"{flag} only applies with --fix")
    if opt.opscheck_release_deployment and not opt.opscheck_release:
        raise pytest.UsageError("--release-deployment only applies with --release IMAGE")
    if opt.opscheck_dry_run and opt.opscheck_destructive:
        raise pytest.UsageError(
            "--dry-run and --allow-destructive together make no sense: a dry run changes nothing"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Markers first, and contradictory flags stop the run before anything else."""
    register_markers(config)
    check_usage(config)
