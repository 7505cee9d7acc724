"""Collection: each check item gets its catalogue entry, id keyword, time budget, Allure
labels and (if the profile says so) a suppression; a check id declared twice, or a
remediation id naming two remediations, stops the run. When the collection is final,
sections hear which checks will run (`pytest_opscheck_sweep_start`), and in a sweep that
fixes nothing the checks that wait on the sampler's windows go last."""

from __future__ import annotations

from datetime import date

import pytest

from opscheck.catalogue import CheckSpec, RemediationSpec, declaration_of
from opscheck.environment import Environment
from opscheck.keys import ENVIRONMENT, SECTIONS, SPEC, SWEEP_STARTED, sampler_of
from opscheck.reports.records import PREFIX


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


def _one_remediation_per_id(
    known: dict[str, RemediationSpec], spec: CheckSpec, item: pytest.Item
) -> None:
    """A remediation id names one remediation. Whether its fixture exists, pytest has no
    public way to ask at collection: a missing one fails the fix that needs it, by name."""
    rem = spec.remediation
    if rem is None:
        return
    first = known.setdefault(rem.id, rem)
    if first != rem:
        raise pytest.UsageError(
            f"remediation id {rem.id} names two remediations (fixtures {first.fixture!r} "
            f"and {rem.fixture!r}, second at {item.nodeid}); ids must be unique"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    environment = config.stash[ENVIRONMENT]
    budget = environment.profile.timeouts.check_budget_s
    if config.option.opscheck_fix:
        budget += environment.profile.fix.budget_s
    owners: dict[str, object] = {}
    remediations: dict[str, RemediationSpec] = {}
    for item in items:
        func = getattr(item, "function", None)
        declaration = declaration_of(func)
        if declaration is None:
            continue
        try:
            spec = declaration.resolve(config.stash[SECTIONS])
        except ValueError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
        owner = owners.setdefault(spec.id, func)
        if owner is not func:
            raise pytest.UsageError(
                f"check id {spec.id} is declared twice "
                f"(second at {item.nodeid}); ids must be unique"
            )
        _one_remediation_per_id(remediations, spec, item)
        item.stash[SPEC] = spec
        item.extra_keyword_matches.add(spec.id)
        item.add_marker(pytest.mark.timeout(budget))
        item.add_marker(pytest.mark.severity(spec.severity.value))
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
        if spec.remediation is not None:  # for the sweep's metrics and alerts (opscheck.alerting)
            item.user_properties.append((PREFIX + "remediation", spec.remediation.id))


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or config.option.opscheck_catalogue:
        return
    environment = config.stash.get(ENVIRONMENT, None)
    if environment is None or environment.problem:
        return
    ids = frozenset(item.stash[SPEC].id for item in session.items if SPEC in item.stash)
    if ids:
        config.stash[SWEEP_STARTED] = True
        config.hook.pytest_opscheck_sweep_start(config=config, check_ids=ids)
        if not config.option.opscheck_fix:
            windowed_last(session.items, sampler_of(config).waiting_checks())


def windowed_last(items: list[pytest.Item], waiting: frozenset[str]) -> None:
    """Move the checks that wait on a sampler job after the others, keeping each group's
    order: the others then run while the window fills, and a cold sweep costs about its
    longest window instead of the window plus everything after the first windowed check.
    Only for sweeps that fix nothing (a fix run keeps the runbook's order)."""
    if not waiting:
        return
    later = [item for item in items if SPEC in item.stash and item.stash[SPEC].id in waiting]
    moved = set(later)
    items[:] = [item for item in items if item not in moved] + later


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.config.stash.get(SWEEP_STARTED, False):
        sampler_of(session.config).close()  # no job outlives the sweep
        session.config.hook.pytest_opscheck_sweep_finish(config=session.config)
