"""The pytest glue: configuration and the wiring of the core's plugin objects.

The core is a small set of plugin modules, loaded from here: options (command line and
markers), collection (catalogue entries on items), outcomes (failure text, exit codes) and
session fixtures. Optional features are plugin objects registered only when their flag is
on (--fix → FixPlugin) or only on the xdist controller (report writers).
"""

from __future__ import annotations

from opscheck import process_gc

# First, before the plugins, conftests and sections are imported (opscheck/process_gc.py).
process_gc.pause()

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opscheck import config as config_module
from opscheck import hooks
from opscheck.alerting.plugin import register_notifier
from opscheck.audit import AuditLog
from opscheck.catalogue_view import CatalogueView
from opscheck.environment import Environment
from opscheck.evidence.plugin import register_evidence
from opscheck.fix.ledger import FixLedger
from opscheck.fix.plugin import FixPlugin
from opscheck.fix.policy import FixOptions
from opscheck.keys import (
    ENVIRONMENT,
    FIX_LEDGER,
    REDACTOR,
    REPORTS_DIR,
    RUN_ID,
    SECTIONS,
    SWEEP_LOCK,
    SWEEP_STATE,
)
from opscheck.plugin_modules import register_plugin_modules
from opscheck.redaction import Redactor
from opscheck.reports.allure_details import AllureDetails
from opscheck.reports.json_summary import JsonSummary
from opscheck.reports.records import RecordCollector
from opscheck.reports.runs import RunArchive
from opscheck.reports.terminal import TerminalSummary, escalations
from opscheck.sections import Sections
from opscheck.settings import profile_model
from opscheck.sweep_lease import take_sweep_lease
from opscheck.sweep_lock import acquire_sweep_lock, sweeps_checks
from opscheck.sweep_state import SweepState
from opscheck.target_identity import machine_state_dir, target_key
from opscheck.verdicts import JunitInconclusiveType

# Plugin modules; this module imports none of them (pytest must load them itself), and
# registers them when it is registered itself (opscheck/plugin_modules.py).
PLUGIN_MODULES = (
    "opscheck.invocation",
    "opscheck.options",
    "opscheck.collection",
    "opscheck.outcomes",
    "opscheck.session_fixtures",
    "opscheck.workers",
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)
    register_plugin_modules(pluginmanager, PLUGIN_MODULES)


def _sections(config: pytest.Config) -> Sections:
    try:
        return Sections(s for found in config.hook.pytest_opscheck_sections() for s in found)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _register_markers(config: pytest.Config, sections: Sections) -> None:
    for s in sections.values():
        config.addinivalue_line(
            "markers",
            f"{s.marker}: runbook '{s.title}' checks ({s.quick_reference}); "
            f"select with -m {s.marker}",
        )


def _environment(config: pytest.Config, sections: Sections) -> Environment:
    root = config.rootpath
    try:
        model = profile_model(sections.values())
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    explicit = config.option.opscheck_config
    path = Path(explicit) if explicit else config_module.default_config_path(root)
    state_dir = config_module.lab_state_dir(root)
    try:
        profiles = config_module.available_profiles(path, model, explicit=bool(explicit))
        name = config.option.opscheck_env
        profile, problem = config_module.choose(name, profiles, path, state_dir, model)
    except config_module.ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    # Whether the lab profile comes from the lab or from a file layered over it, its secrets
    # are the lab's own (never a production DATABASE_URL left in the shell).
    lab_env = state_dir / "env" if config_module.is_lab(name) else None
    return Environment.build(name, profile, problem, lab_env)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    sections = _sections(config)
    config.stash[SECTIONS] = sections
    _register_markers(config, sections)
    environment = _environment(config, sections)
    redactor = Redactor.from_environment(environment.secret_variables())
    reports = Path(config.option.opscheck_reports or config.rootpath / "reports")
    config.stash[ENVIRONMENT] = environment
    config.stash[REDACTOR] = redactor
    config.stash[REPORTS_DIR] = reports
    # A dry run reads what earlier sweeps recorded and records nothing itself.
    dry_run = bool(config.option.opscheck_fix and config.option.opscheck_dry_run)
    # State is kept per target: a sample from another cluster, URL or database is never
    # taken for this one's.
    target_state = reports / "state" / target_key(environment)
    config.stash[SWEEP_STATE] = SweepState(target_state, writable=not dry_run)
    workerinput = getattr(config, "workerinput", None)
    run_id = workerinput["opscheck_run_id"] if workerinput else uuid.uuid4().hex[:12]
    config.stash[RUN_ID] = run_id
    if workerinput is None:
        _configure_controller(config, environment, reports, run_id, redactor)
    if getattr(config.option, "allure_report_dir", None):  # set above, or passed to workers
        details = AllureDetails(environment.profile.placeholders())
        config.pluginmanager.register(details, "opscheck-allure-details")
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
        ledger = FixLedger(machine_state_dir() / "runs" / run_id)
        if workerinput is None:
            config.stash[FIX_LEDGER] = ledger
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
    config.pluginmanager.register(
        TerminalSummary(
            collector,
            environment.name,
            config.stash[SECTIONS],
            escalations(config.stash[SECTIONS], environment.profile),
        ),
        "opscheck-terminal",
    )
    if not sweeps_checks(config):
        return  # the suite's own tests: no lock, no reports in reports/
    try:
        reports.mkdir(parents=True, exist_ok=True)
        probe = reports / f".writable-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise pytest.UsageError(
            f"cannot write reports to {reports} ({exc.strerror or type(exc).__name__}); "
            "give --reports-dir a writable directory"
        ) from None
    lock = acquire_sweep_lock(machine_state_dir(), target_key(environment), environment.name)
    config.stash[SWEEP_LOCK] = lock
    # Across machines, the namespace's Lease (profiles with Kubernetes); the local lock
    # stays too: it also guards what the Lease does not see (a run that could not take it).
    dry_run = bool(config.option.opscheck_fix and config.option.opscheck_dry_run)
    try:
        take_sweep_lease(config, environment, run_id, dry_run=dry_run)
    except pytest.UsageError:
        lock.release()
        del config.stash[SWEEP_LOCK]
        raise
    register_evidence(config, collector, environment.name, run_id)
    profile = environment.profile
    register_notifier(
        config, collector, config.stash[SECTIONS], environment.name, run_id,
        profile.alerting, profile.metrics_push, redactor,
    )  # fmt: skip
    if config.option.opscheck_no_reports:
        return
    config.pluginmanager.register(
        JsonSummary(reports / "summary.json", collector, environment.name, run_id, redactor),
        "opscheck-json",
    )
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(reports / "junit.xml")
    config.pluginmanager.register(
        JunitInconclusiveType(Path(config.option.xmlpath)), "opscheck-junit-types"
    )
    if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
        config.option.allure_report_dir = str(reports / "allure-results")
        config.option.clean_alluredir = True
    allure = getattr(config.option, "allure_report_dir", None)
    keep = config.option.opscheck_keep_runs
    config.pluginmanager.register(
        RunArchive(reports, run_id, datetime.now(UTC), keep, Path(allure) if allure else None),
        "opscheck-runs",
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    process_gc.settle()


def pytest_unconfigure(config: pytest.Config) -> None:
    process_gc.settle()  # a session that ended before it started (a usage error)
    lock = config.stash.get(SWEEP_LOCK, None)
    if lock is not None:
        lock.release()
    ledger = config.stash.get(FIX_LEDGER, None)
    if ledger is not None:
        ledger.remove()


def pytest_configure_node(node: object) -> None:
    """xdist controller hook: hand the run id to each worker."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    node.workerinput["opscheck_run_id"] = config.stash[RUN_ID]  # type: ignore[attr-defined]
