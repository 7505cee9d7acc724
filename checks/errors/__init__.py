"""Pure rules of the High Error Rates section (ERR-1xx): data in, Finding (or None) out.

The data are plain values built by fixtures/metrics.py and fixtures/logs.py: two scrapes of
/api/metrics (their counter increases), parsed JSON log lines of the API pods, third-party
probe results, and pod memory series. Unit tests feed them from tests/data/errors/.

One module per concern (counters.py, the scrapes and their increases, is shared with the
performance section; notes.py is the one helper that is not a rule); this package
re-exports their public names, so checks, fixtures and tests import from `checks.errors`.

A rule returns a Finding (failed), None (passed) or NoData (inconclusive: exactly what was
missing); rules that may judge part of their question also return notes saying what they
left out.
"""

from __future__ import annotations

from checks.errors.counters import (
    KEPT_SAMPLES,
    Increase,
    Labels,
    Scrape,
    SeriesKey,
    increase,
    kept_samples,
    reset_note,
)
from checks.errors.dependencies import (
    FLAG_OFF,
    NOT_CONFIGURED,
    Probe,
    container_named,
    flag_value,
    third_parties,
)
from checks.errors.health import (
    dependency_errors,
    exclusive_locks,
    lock_waits,
    third_party_problems,
)
from checks.errors.logs import (
    ERROR_LEVELS,
    PINO_LEVELS,
    LogLine,
    PodLog,
    covered_seconds,
    error_distribution,
    error_lines,
    level_of,
    parse_line,
    parse_time,
    parse_timestamped,
    top_messages,
    unreadable_logs,
)
from checks.errors.memory import MIB, MemorySeries, growth_per_minute, memory_leaks
from checks.errors.rates import Counted, count, error_rate, percent, status_label, threshold
from checks.errors.rollouts import (
    AT_ROLLOUT,
    SAME_WINDOW,
    RevisionErrors,
    bad_deployment,
    errs,
    revision_errors,
    revisions,
    seen_from,
    unless_explained,
    unseen_onset,
)
from checks.errors.settings import ErrorsSettings
from opscheck import Section, Severity

SECTION = Section(
    "errors",
    "High Error Rates",
    "high-error-rates",
    Severity.HIGH,
    "15 min",
    "+30 min",
    ErrorsSettings,
)

__all__ = [
    "AT_ROLLOUT",
    "ERROR_LEVELS",
    "FLAG_OFF",
    "KEPT_SAMPLES",
    "MIB",
    "NOT_CONFIGURED",
    "PINO_LEVELS",
    "SAME_WINDOW",
    "SECTION",
    "Counted",
    "Increase",
    "Labels",
    "LogLine",
    "MemorySeries",
    "PodLog",
    "Probe",
    "RevisionErrors",
    "Scrape",
    "SeriesKey",
    "bad_deployment",
    "container_named",
    "count",
    "covered_seconds",
    "dependency_errors",
    "error_distribution",
    "error_lines",
    "error_rate",
    "errs",
    "exclusive_locks",
    "flag_value",
    "growth_per_minute",
    "increase",
    "kept_samples",
    "level_of",
    "lock_waits",
    "memory_leaks",
    "parse_line",
    "parse_time",
    "parse_timestamped",
    "percent",
    "reset_note",
    "revision_errors",
    "revisions",
    "seen_from",
    "status_label",
    "third_parties",
    "third_party_problems",
    "threshold",
    "top_messages",
    "unless_explained",
    "unreadable_logs",
    "unseen_onset",
]
