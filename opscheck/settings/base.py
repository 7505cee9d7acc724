"""The base of every settings model: unknown keys are errors, values are validated strictly."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    """Strict settings: an unknown or misspelt key stops the run instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True)

    def placeholders(self) -> Mapping[str, str]:
        """Names this part of the profile lends to manual steps ({queue}); none by default."""
        return {}
