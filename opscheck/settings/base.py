"""The base of every settings model: unknown keys are errors, values are validated strictly."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    """Strict settings: an unknown or misspelt key stops the run instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True)
