"""Settings for the security section's login checks (SEC-111..114), under `security_logins:`.

The checks read the application's login log: by default the `auth_logs` table the API
writes one row per attempt into (created_at, user_id, email, ip, success). A deployment
whose table or columns are named otherwise says so here; the names are bound as quoted
identifiers, never spliced in as text.

Windows are production-sized by default: the last 15 min, against the 4 windows before it
and the same 15 min on each of the previous 7 days. The lab's are seconds (lab/outputs.py).
Every threshold can be overridden per profile, e.g. ``security_logins: {window_s: 300}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from opscheck.settings.base import Settings

TABLE = r"^[^\s\"]+$"  # no blanks or quotes; schema.table allowed
COLUMN = r"^[^\s\".]+$"  # no blanks, quotes or dots


class LoginSettings(Settings):
    """Where the login log is, the windows it is judged over, and the thresholds."""

    table: str = Field("auth_logs", min_length=1, pattern=TABLE)
    created_column: str = Field("created_at", min_length=1, pattern=COLUMN)
    success_column: str = Field("success", min_length=1, pattern=COLUMN)
    address_column: str = Field("ip", min_length=1, pattern=COLUMN)
    user_id_column: str = Field("user_id", min_length=1, pattern=COLUMN)
    email_column: str = Field("email", min_length=1, pattern=COLUMN)
    # The recent window every check judges, and SEC-111's baseline: the windows of the
    # same length just before it, and the same window on each of the previous days.
    window_s: PositiveFloat = 900.0
    baseline_windows: NonNegativeInt = 4
    baseline_days: NonNegativeInt = 7
    # SEC-111 fails when the window's failed logins reach the floor AND exceed the
    # multiple of the baseline (the median of the earlier windows the table covers).
    spike_min_failures: PositiveInt = 20
    spike_ratio: float = Field(3.0, ge=1.0)
    # SEC-112: failed logins for one account in the window.
    brute_force_failures: PositiveInt = 10
    # SEC-113: distinct accounts failing from one address in the window.
    stuffing_accounts: PositiveInt = 10
    # SEC-114: a login that succeeded in the window after this many failures from its
    # address within burst_window_s before it.
    burst_failures: PositiveInt = 5
    burst_window_s: PositiveFloat = 300.0
    evidence_rows: PositiveInt = 5  # addresses / accounts shown in a finding's evidence

    def placeholders(self) -> Mapping[str, str]:
        """The login log's names for manual steps ({auth_logs_table}, {auth_logs_window})."""
        return {
            "auth_logs_table": self.table,
            "auth_logs_created": self.created_column,
            "auth_logs_success": self.success_column,
            "auth_logs_address": self.address_column,
            "auth_logs_email": self.email_column,
            "auth_logs_window": f"{self.window_s:g} seconds",
            "auth_logs_burst_window": f"{self.window_s + self.burst_window_s:g} seconds",
        }
