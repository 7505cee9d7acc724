"""Settings of the Security Incidents section's secret-hygiene checks (SEC-101..104).

Every key starts with `secret_`: the section's other checks keep their own. Defaults are
the runbook's names (rolerabbit-secrets holds the JWT secret, the database URL and the API
keys; regcred the registry credentials) and what secret scanners commonly flag: a Secret
rotated at least every 90 days, and env var names that say password, secret, token or key.
The patterns are Python regular expressions, matched anywhere in the name, ignoring case,
and are checked when the profile loads (a bad one stops the run, exit 4, naming its key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import Field, PositiveFloat, field_validator

from opscheck.settings.base import Settings

SECRET_ENV_NAMES = r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL"
SECRET_URL_ENV_NAMES = r"(_URL|_URI|_DSN)$"


class SecuritySettings(Settings):
    # Rotation (SEC-101): the Secrets that must be rotated, by name in the profile's
    # namespace, and the rotation age. A Secret's age is the time in its rotation
    # annotation (RFC 3339, written when it was last rotated), else its creationTimestamp.
    secret_names: list[str] = Field(
        default_factory=lambda: ["rolerabbit-secrets", "regcred"], min_length=1
    )
    secret_rotation_max_age_days: PositiveFloat = 90.0
    secret_rotated_annotation: str = "rolerabbit.io/rotated-at"
    # Plain-text values (SEC-102): env var names that hold a secret, and names whose value
    # is a URL that must not carry a password (DATABASE_URL, REDIS_URL).
    secret_env_names: str = SECRET_ENV_NAMES
    secret_url_env_names: str = SECRET_URL_ENV_NAMES
    # Tokens (SEC-103): the Deployments whose pods call the Kubernetes API and so need a
    # service-account token; every other Deployment's pods must not mount one.
    secret_api_access_deployments: list[str] = Field(default_factory=list)

    @field_validator("secret_env_names", "secret_url_env_names")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"not a regular expression ({exc}), e.g. {SECRET_ENV_NAMES!r}"
            ) from None
        if not value or re.search(value, "", re.IGNORECASE) is not None:
            raise ValueError("matches every name: give the names that hold a secret")
        return value

    @field_validator("secret_rotated_annotation")
    @classmethod
    def _annotation(cls, value: str) -> str:
        if not re.fullmatch(r"([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?", value):
            raise ValueError(f"{value!r} is not an annotation key, e.g. rolerabbit.io/rotated-at")
        return value

    def secret_like(self, name: str) -> bool:
        """An env var name that holds a secret, whatever its value."""
        return re.search(self.secret_env_names, name, re.IGNORECASE) is not None

    def url_like(self, name: str) -> bool:
        """An env var name whose value is a URL that must not carry a password."""
        return re.search(self.secret_url_env_names, name, re.IGNORECASE) is not None

    def placeholders(self) -> Mapping[str, str]:
        key = self.secret_rotated_annotation
        # kubectl's custom-columns and jsonpath read a dot in a key as a path step.
        return {"rotated_annotation": key, "rotated_annotation_path": key.replace(".", "\\.")}
