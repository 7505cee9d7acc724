"""Settings for the security section's traffic check (SEC-131), under `security_traffic:`.

SEC-131 reads the API's request counter over the errors section's metrics window (the
profile's `api.metrics_source`, `errors.metrics` names, `errors.exclude_routes`), and
judges the window's request rate and 4xx rate against what earlier sweeps of the same
target saw: the median of up to `baseline_windows` recorded windows no older than
`baseline_max_age_s`. A rate is unusual above `*_ratio` times its baseline, and never below
its `*_floor_per_s` (a quiet API's baseline near zero would make any few requests a surge).
With fewer than `baseline_min_windows` recorded windows there is no baseline yet, and the
absolute `*_max_per_s` are the limits (the evidence says so).

The absolute limits are for an API of RoleRabbit's size (tens of requests a second); set
them to a production API's peak. Only windows judged usual are recorded, so a surge never
becomes its own baseline; a lasting change of level (a launch, a new partner) is taken in
once an operator has looked: delete the state file the evidence names, or raise the limits.
"""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from opscheck.settings.base import Settings


class TrafficSettings(Settings):
    """The baseline's size and age, the ratios and floors, and the limits without one."""

    requests_ratio: float = Field(3.0, gt=1)
    """The request rate is unusual above this many times its baseline..."""
    requests_floor_per_s: PositiveFloat = 5.0
    """...and never below this many requests a second."""
    requests_max_per_s: PositiveFloat = 200.0
    """With no baseline yet: the request rate's absolute limit."""
    client_errors_ratio: float = Field(5.0, gt=1)
    """The 4xx rate is unusual above this many times its baseline..."""
    client_errors_floor_per_s: PositiveFloat = 1.0
    """...and never below this many 4xx answers a second."""
    client_errors_max_per_s: PositiveFloat = 5.0
    """With no baseline yet: the 4xx rate's absolute limit."""
    baseline_windows: PositiveInt = 12
    """Recorded windows kept (the newest); their median is the baseline."""
    baseline_min_windows: PositiveInt = 3
    """Fewer recorded windows than this: no baseline yet, the absolute limits judge."""
    baseline_max_age_s: PositiveFloat = 7 * 86400.0
    """Recorded windows older than this are forgotten."""

    @model_validator(mode="after")
    def _enough_kept(self) -> TrafficSettings:
        if self.baseline_min_windows > self.baseline_windows:
            raise ValueError(
                f"baseline_min_windows ({self.baseline_min_windows}) is more than "
                f"baseline_windows ({self.baseline_windows}) keeps"
            )
        return self
