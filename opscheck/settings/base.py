"""The base of every settings model: unknown keys are errors, values are validated strictly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationInfo

N = TypeVar("N", int, float)
ORDER = {
    "above": lambda v, b: v > b,
    "at least": lambda v, b: v >= b,
    "below": lambda v, b: v < b,
    "at most": lambda v, b: v <= b,
}


class Settings(BaseModel):
    """Strict settings: an unknown or misspelt key stops the run instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True)

    def placeholders(self) -> Mapping[str, str]:
        """Names this part of the profile lends to manual steps ({queue}); none by default."""
        return {}

    def escalation_contacts(self) -> str | None:
        """Who to escalate to when this section's checks fail (the terminal says it); none
        by default."""
        return None


def ordered(
    value: N,
    info: ValidationInfo,
    other: str,
    relation: Literal["above", "at least", "below", "at most"],
    why: str = "",
    *,
    bound: float | None = None,
) -> N:
    """`value` must stand in `relation` to the already validated field `other` (or to
    `bound`, a value derived from it that the message names as `other`).

    Pydantic validates fields in order, so `other` is in info.data unless it was invalid
    itself; then its own error names it, and this one stays quiet.
    """
    limit = info.data.get(other) if bound is None else bound
    if limit is None or ORDER[relation](value, limit):
        return value
    reason = f": {why}" if why else ""
    raise ValueError(
        f"{info.field_name} ({value:g}) must be {relation} {other} ({limit:g}){reason}"
    )
