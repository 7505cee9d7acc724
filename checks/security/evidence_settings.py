"""Settings of the security section's evidence bundle (`--evidence`), under `security_evidence:`.

What the runbook's Investigate step exports, bounded: the API pods' logs over `log_window_s`
(its `kubectl logs --since=24h`), at most `log_max_bytes_per_pod` of each pod and
`log_max_bytes` in all; the login log's rows of the last `rows_window_s` (its
`interval '1 hour'`), the failures and the successes of a flagged address or account (one
with `flag_min_failures` failed logins in that window), and the rows of `changes_table`
whose `changes_column` falls in the window, each CSV at most `max_rows` rows. The login
log's table and columns are `security_logins:`'s. What a bound cut is said in the bundle's
collection.txt.
"""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt

from checks.security.login_settings import COLUMN, TABLE
from opscheck.settings.base import Settings

MIB = 1 << 20


class EvidenceSettings(Settings):
    """The evidence bundle's windows and bounds."""

    log_window_s: PositiveFloat = 86400.0
    log_max_bytes_per_pod: PositiveInt = 16 * MIB
    log_max_bytes: PositiveInt = 64 * MIB
    rows_window_s: PositiveFloat = 3600.0
    max_rows: PositiveInt = 50_000
    flag_min_failures: PositiveInt = 5
    changes_table: str = Field("portfolios", min_length=1, pattern=TABLE)
    changes_column: str = Field("updated_at", min_length=1, pattern=COLUMN)
