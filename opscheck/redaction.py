"""Redaction of secrets in every message, report and log line.

Two layers: URL passwords (scheme://user:password@host) and DSN `password=` pairs are masked
by pattern wherever they appear; and the literal values of secret environment variables
(and of anything registered at run time) are masked wherever they appear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

MASK = "***"
URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?=@)")
DSN_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE|CREDENTIAL|_URL$|DSN", re.I)
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def _url_password(value: str) -> str | None:
    try:
        password = urlsplit(value).password
    except ValueError:
        return None
    return unquote(password) if password else None


class Redactor:
    """Masks known secret values and URL/DSN passwords in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for value in secrets:
            self.add(value)

    @classmethod
    def from_environment(cls, extra: Mapping[str, str] = ()) -> Redactor:  # type: ignore[assignment]
        redactor = cls()
        for source in (os.environ, dict(extra)):
            for name, value in source.items():
                if SECRET_NAME.search(name):
                    redactor.add_from_variable(name, value)
        return redactor

    def add_from_variable(self, name: str, value: str) -> None:
        """Register a variable's secret: the password inside a URL, or the whole value."""
        password = _url_password(value)
        if password:
            self.add(password)
        elif not name.upper().endswith("_URL"):
            self.add(value)

    def add(self, value: str) -> None:
        if value and len(value) >= MIN_SECRET_LENGTH:
            self._secrets.add(value)

    def __call__(self, text: str) -> str:
        text = URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
        text = DSN_PASSWORD.sub(lambda m: m["head"] + MASK, text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text
