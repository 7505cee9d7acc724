"""The pytest glue: options, markers, configuration, collection and failure reports.

Optional features are separate plugin objects registered only when their flag is on
(--fix → FixPlugin) or only on the xdist controller (report writers).

Exit codes for CI gates: 0 healthy (or everything fixed, or failures only below
--fail-on), 1 a check failed, 2 interrupted, 3 internal error, 4 usage or configuration
error, 5 no checks selected.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator
from datetime import date
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from opscheck import config as config_module
from opscheck.audit import AuditLog
from opscheck.catalogue import CheckSpec, spec_of
from opscheck.catalogue_view import CatalogueView
from opscheck.environment import Environment
from opscheck.findings import CheckFailure, DependencyUnavailable
from opscheck.fixing import FixLedger, FixOptions, FixPlugin
from opscheck.keys import FIX_OUTCOME, SPEC
from opscheck.redaction import Redactor
from opscheck.rendering import render_failure, render_unavailable
from opscheck.reports.json_summary import JsonSummary
from opscheck.reports.records import PREFIX, RecordCollector
from opscheck.reports.terminal import TerminalSummary
from opscheck.sections import SECTIONS, Severity
from opscheck.settings import Profile
from opscheck.snapshots import SnapshotStore

ENVIRONMENT = pytest.StashKey[Environment]()
REDACTOR = pytest.StashKey[Redactor]()
REPORTS_DIR = pytest.StashKey[Path]()
RUN_ID = pytest.StashKey[str]()
SWEEP_LOCK = pytest.StashKey[FileLock]()
LEVELS = [s.value for s in Severity]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("opscheck", "RoleRabbit runbook checks")
    group.addoption(
        "--env",
        dest="opscheck_env",
        metavar="NAME",
        default=os.environ.get("ROLERABBIT_ENV", "lab"),
        help="environment profile to check (default: lab, or $ROLERABBIT_ENV)",
    )
    group.addoption(
        "--config",
        dest="opscheck_config",
        metavar="PATH",
        default=None,
        help="profiles file (default: rolerabbit.yaml, or $ROLERABBIT_CONFIG)",
    )
    group.addoption(
        "--fix",
        dest="opscheck_fix",
        action="store_true",
        help="apply the remediation of each failing check, then re-check",
    )
    group.addoption(
        "--dry-run",
        dest="opscheck_dry_run",
        action="store_true",
        help="with --fix: print the exact actions and change nothing",
    )
    group.addoption(
        "--allow-destructive",
        dest="opscheck_destructive",
        action="store_true",
        help="with --fix: allow remediations marked destructive",
    )
    group.addoption(
        "--fix-only",
        dest="opscheck_fix_only",
        metavar="IDS",
        default="",
        help="with --fix: only these remediation ids (comma-separated)",
    )
    group.addoption(
        "--fail-on",
        dest="opscheck_fail_on",
        metavar="LEVEL",
        default="low",
        choices=LEVELS,
        help="lowest severity that fails the run (default: low = any failure)",
    )
    group.addoption(
        "--catalogue",
        dest="opscheck_catalogue",
        action="store_true",
        help="list the selected checks (id, section, severity, remediation)",
    )
    group.addoption(
        "--reports-dir",
        dest="opscheck_reports",
        metavar="DIR",
        default=None,
        help="where reports and the audit log go (default: reports/)",
    )
    group.addoption(
        "--no-reports",
        dest="opscheck_no_reports",
        action="store_true",
        help="do not write JUnit, Allure and JSON reports by default",
    )


def _register_markers(config: pytest.Config) -> None:
    for s in SECTIONS.values():
        config.addinivalue_line(
            "markers",
            f"{s.marker}: runbook '{s.title}' checks ({s.quick_reference}); "
            f"select with -m {s.marker}",
        )
    config.addinivalue_line(
        "markers",
        "severity(level): check severity, one of critical/high/medium/low; "
        "e.g. @pytest.mark.severity('critical')",
    )
    config.addinivalue_line(
        "markers", "check_id(id): the check's stable catalogue id, e.g. check_id('DB-102')"
    )


def _usage(config: pytest.Config) -> None:
    opt = config.option
    if not opt.opscheck_fix:
        for flag, on in (
            ("--dry-run", opt.opscheck_dry_run),
            ("--allow-destructive", opt.opscheck_destructive),
            ("--fix-only", opt.opscheck_fix_only),
        ):
            if on:
                raise pytest.UsageError(f"{flag} only applies with --fix")
    if opt.opscheck_dry_run and opt.opscheck_destructive:
        raise pytest.UsageError(
            "--dry-run and --allow-destructive together make no sense: a dry run changes nothing"
        )


def _environment(config: pytest.Config) -> Environment:
    root = config.rootpath
    explicit = config.option.opscheck_config
    path = Path(explicit) if explicit else config_module.default_config_path(root)
    state_dir = config_module.lab_state_dir(root)
    try:
        profiles = config_module.available_profiles(path, explicit=bool(explicit))
        name = config.option.opscheck_env
        profile, problem = config_module.choose(name, profiles, path, state_dir)
    except config_module.ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    # Whether the lab profile comes from the lab or from a file layered over it, its secrets
    # are the lab's own (never a production DATABASE_URL left in the shell).
    lab_env = state_dir / "env" if name == config_module.LAB else None
    return Environment.build(name, profile, problem, lab_env)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _register_markers(config)
    _usage(config)
    environment = _environment(config)
    redactor = Redactor.from_environment(environment.secret_variables())
    reports = Path(config.option.opscheck_reports or config.rootpath / "reports")
    config.stash[ENVIRONMENT] = environment
    config.stash[REDACTOR] = redactor
    config.stash[REPORTS_DIR] = reports
    workerinput = getattr(config, "workerinput", None)
    run_id = workerinput["opscheck_run_id"] if workerinput else uuid.uuid4().hex[:12]
    config.stash[RUN_ID] = run_id
    if workerinput is None:
        _configure_controller(config, environment, reports, run_id, redactor)
    if config.option.opscheck_fix:
        opt = config.option
        audit = AuditLog(
            reports / "audit.jsonl", environment=environment.name, run_id=run_id, redact=redactor
        )
        options = FixOptions(
            dry_run=opt.opscheck_dry_run,
            allow_destructive=opt.opscheck_destructive,
            only=frozenset(i.strip() for i in opt.opscheck_fix_only.split(",") if i.strip()),
            worker=workerinput["workerid"] if workerinput else "controller",
        )
        ledger = FixLedger(reports / ".runs" / run_id)
        config.pluginmanager.register(
            FixPlugin(options, environment.profile.fix, audit, ledger, reports), "opscheck-fix"
        )


def _configure_controller(
    config: pytest.Config,
    environment: Environment,
    reports: Path,
    run_id: str,
    redactor: Redactor,
) -> None:
    if config.option.opscheck_catalogue:
        config.pluginmanager.register(CatalogueView(), "opscheck-catalogue")
        return
    collector = RecordCollector()
    config.pluginmanager.register(collector, "opscheck-records")
    config.pluginmanager.register(TerminalSummary(collector, environment.name), "opscheck-terminal")
    if not sweeps_checks(config):
        return  # the suite's own tests: no lock, no reports in reports/
    reports.mkdir(parents=True, exist_ok=True)
    config.stash[SWEEP_LOCK] = _sweep_lock(reports, environment.name)
    if config.option.opscheck_no_reports:
        return
    config.pluginmanager.register(
        JsonSummary(reports / "summary.json", collector, environment.name, run_id, redactor),
        "opscheck-json",
    )
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(reports / "junit.xml")
    if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
        config.option.allure_report_dir = str(reports / "allure-results")
        config.option.clean_alluredir = True


def sweeps_checks(config: pytest.Config) -> bool:
    """Whether this run sweeps the environment: its paths include the checks directory.

    The suite's own tests (tests/) are not sweeps and take no lock.
    """
    checks = (config.rootpath / "checks").resolve()
    for arg in config.args:
        path = Path(arg.split("::")[0])
        if not path.is_absolute():
            path = config.invocation_params.dir / path
        path = path.resolve()
        if path == checks or checks in path.parents or path in checks.parents:
            return True
    return False


def _sweep_lock(reports: Path, environment: str) -> FileLock:
    """Scheduled sweeps must never run twice at once against one environment."""
    lock = FileLock(str(reports / f".sweep-{environment}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise pytest.UsageError(
            f"another run against profile {environment!r} is in progress "
            f"(lock {lock.lock_file}); wait for it to finish"
        ) from None
    return lock


def pytest_unconfigure(config: pytest.Config) -> None:
    lock = config.stash.get(SWEEP_LOCK, None)
    if lock is not None:
        lock.release()


def pytest_configure_node(node: object) -> None:
    """xdist controller hook: hand the run id to each worker."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    node.workerinput["opscheck_run_id"] = config.stash[RUN_ID]  # type: ignore[attr-defined]


def _suppression(environment: Environment, item: pytest.Item, spec: CheckSpec) -> str | None:
    callspec = getattr(item, "callspec", None)
    target = callspec.id if callspec else None
    for entry in environment.profile.suppress:
        if entry.check != spec.id or (entry.target and entry.target != target):
            continue
        if entry.expires < date.today():
            continue  # an expired suppression no longer hides anything
        return f"suppressed until {entry.expires}: {entry.reason}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    environment = config.stash[ENVIRONMENT]
    budget = environment.profile.timeouts.check_budget_s
    if config.option.opscheck_fix:
        budget += environment.profile.fix.budget_s
    owners: dict[str, object] = {}
    for item in items:
        func = getattr(item, "function", None)
        spec = spec_of(func)
        if spec is None:
            continue
        owner = owners.setdefault(spec.id, func)
        if owner is not func:
            raise pytest.UsageError(
                f"check id {spec.id} is declared twice "
                f"(second at {item.nodeid}); ids must be unique"
            )
        item.stash[SPEC] = spec
        item.extra_keyword_matches.add(spec.id)
        item.add_marker(pytest.mark.timeout(budget))
        item.add_marker(pytest.mark.allure_label(spec.severity.allure, label_type="severity"))
        item.add_marker(pytest.mark.allure_label(spec.section.title, label_type="feature"))
        item.add_marker(pytest.mark.allure_label(spec.symptom, label_type="story"))
        item.add_marker(pytest.mark.allure_label(spec.id, label_type="as_id"))
        item.add_marker(
            pytest.mark.allure_link(
                spec.section.runbook_link, link_type="link", name=f"runbook: {spec.section.title}"
            )
        )
        if reason := _suppression(environment, item, spec):
            item.add_marker(pytest.mark.skip(reason=reason))
        item.user_properties.extend(
            [
                (PREFIX + "id", spec.id),
                (PREFIX + "title", spec.title),
                (PREFIX + "section", spec.section.marker),
                (PREFIX + "severity", spec.severity.value),
            ]
        )


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    redact = item.config.stash[REDACTOR]
    spec = item.stash.get(SPEC, None)
    outcome = item.stash.get(FIX_OUTCOME, None)
    if outcome is not None and call.when == "call":
        report.user_properties.append((PREFIX + "fix", outcome.status))
    if report.failed and call.excinfo is not None:
        exc = call.excinfo.value
        # Other reporters (Allure) read the exception itself, after this wrapper.
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        if isinstance(exc, CheckFailure) and spec is not None:
            report.longrepr = redact(render_failure(spec, exc.finding, outcome))
        elif isinstance(exc, DependencyUnavailable):
            report.longrepr = redact(render_unavailable(spec, str(exc)))
        else:
            report.longrepr = redact(str(report.longrepr))
        if spec is not None:
            # The message line for summaries; under xdist the report text starts elsewhere.
            first = str(report.longrepr).strip().splitlines()
            line = (
                first[0]
                if isinstance(exc, CheckFailure | DependencyUnavailable)
                else (
                    f"[{spec.id}] {type(exc).__name__}: {redact(str(exc)).splitlines()[0][:300]}"
                    if str(exc).strip()
                    else f"[{spec.id}] {type(exc).__name__}"
                )
            )
            report.user_properties.append((PREFIX + "message", line if first else ""))
    elif outcome is not None and spec is not None and call.when == "call":
        report.sections.append(
            (
                "opscheck fix",
                f"[{spec.id}] fix: {outcome.status} ({outcome.remediation}): {outcome.detail}",
            )
        )
    report.sections = [(title, redact(text)) for title, text in report.sections]
    return report


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    if (
        report.when == "call"
        and report.passed
        and (PREFIX + "fix", "fixed") in [(str(k), str(v)) for k, v in report.user_properties]
    ):
        return "fixed", "R", ("FIXED", {"green": True})
    return None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """--fail-on: failures below the chosen severity do not fail the gate."""
    config = session.config
    threshold = Severity(config.option.opscheck_fail_on)
    if session.exitstatus != pytest.ExitCode.TESTS_FAILED or threshold is Severity.LOW:
        return
    collector = config.pluginmanager.get_plugin("opscheck-records")
    if not isinstance(collector, RecordCollector):
        return
    bad = [r for r in collector.records.values() if r.status in ("failed", "error")]
    if len(bad) == session.testsfailed and all(
        Severity(r.severity).rank > threshold.rank for r in bad
    ):
        session.exitstatus = pytest.ExitCode.OK


# -- core fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def environment(pytestconfig: pytest.Config) -> Environment:
    """The chosen environment; a check that needs it fails clearly if it is unusable."""
    env = pytestconfig.stash[ENVIRONMENT]
    env.require_usable()
    return env


@pytest.fixture(scope="session")
def settings(environment: Environment) -> Profile:
    """The active profile's settings."""
    return environment.profile


@pytest.fixture(scope="session")
def snapshots() -> SnapshotStore:
    """The session's snapshot store, shared by all checks, invalidated after a fix."""
    return SnapshotStore()


@pytest.fixture(scope="session")
def redactor(pytestconfig: pytest.Config) -> Redactor:
    return pytestconfig.stash[REDACTOR]


@pytest.fixture(scope="session")
def reports_dir(pytestconfig: pytest.Config) -> Path:
    return pytestconfig.stash[REPORTS_DIR]
