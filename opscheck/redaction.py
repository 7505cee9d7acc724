"""Redaction of secrets in every message, report and log line.

Two layers. Patterns mask the password of every connection string wherever it appears: URLs
(`scheme://user:password@host`, however malformed) and DSN `password=` pairs. Literal
values mask the secrets of secret environment variables (and anything registered at run
time) in every form they can appear in: raw, percent-decoded, percent-encoded, and the
pieces a client shows when it misreads a malformed URL (libpq reports the tail of
`monitor:Leak@Secret123@host` as the host name `Secret123@host`).

User names and hosts stay visible: they are what an operator needs to act on a message.

A URL's password is everything between the first `:` after the user name and the LAST `@`
of the URL (users write unencoded `@ : / # ?` in passwords, so the host can only start
after the last `@`). A URL ends at whitespace. When a path or query also holds an `@`, more
than the password is masked: masking too much is the safe side.

JSON text (summary.json, audit lines) is redacted string by string, so a mask never eats a
quote and the document stays valid JSON.

Logs carry credentials of their own that no variable names: `mask_credentials` masks
Authorization headers, bearer tokens, and the values of credential parameters in query
strings and JSON fields (`?token=...`, `"password": "..."`), for the evidence of
`--evidence`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
SCHEME = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://")
URL_END = re.compile(r"\s")
# password=x, password = 'a b', PGPASSWORD=x, DB_PASSWORD="x", ?password=x&sslmode=...
DSN_PASSWORD = re.compile(
    r"(?P<head>(?P<sep>[?&])?\b(?:\w*?_)?(?:pg)?passw(?:or)?d[ \t]*=[ \t]*)"
    r"(?P<pw>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)",
    re.IGNORECASE,
)
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|_PASS$|SECRET|TOKEN|API_KEY|PRIVATE|CREDENTIAL|_URL$|_URI$|DSN", re.I
)
CONNECTION_NAME = re.compile(r"_UR[LI]$", re.I)  # a URL without a password holds no secret
PASSWORD_DELIMITERS = re.compile(r"[@:/#?]")
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
CREDENTIAL_PARAMS = (
    "token", "access_token", "refresh_token", "id_token", "password", "passwd", "pwd",
    "secret", "client_secret", "api_key", "apikey", "auth", "signature", "session",
)  # fmt: skip
AUTHORIZATION = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:bearer|basic|token|digest|negotiate)\s+)?)(?P<cred>[^\s\"',;&]+)",
    re.IGNORECASE,
)
BEARER = re.compile(r"(?P<head>\bbearer\s+)(?P<cred>[A-Za-z0-9._~+/-]{8,}=*)", re.IGNORECASE)


def password_span(url: str) -> tuple[int, int] | None:
    """Where the password is in `url` (which starts with `scheme://`), or None.

    The user name runs to the first `:` (then a password follows) or `/` (then none does);
    the password runs from that `:` to the last `@`.
    """
    scheme = SCHEME.match(url)
    if scheme is None:
        return None
    start = scheme.end()
    user = re.compile(r"[^:/\[\s]*").match(url, start)
    colon = user.end() if user else start
    if colon >= len(url) or url[colon] != ":":
        return None  # no user info, or an IPv6 host `[::1]` / a path comes first
    at = url.rfind("@", colon)
    return (colon + 1, at) if at > colon else None


def _mask_urls(text: str) -> str:
    out: list[str] = []
    pos = 0
    while (found := SCHEME.search(text, pos)) is not None:
        end_match = URL_END.search(text, found.end())
        end = end_match.start() if end_match else len(text)
        span = password_span(text[found.start() : end])
        if span is None:
            out.append(text[pos : found.end()])
            pos = found.end()  # a URL inside this one (?next=postgresql://...) is still seen
            continue
        out.append(text[pos : found.start() + span[0]] + MASK)
        pos = found.start() + span[1]
    out.append(text[pos:])
    return "".join(out)


def _mask_dsn(match: re.Match[str]) -> str:
    value = match["pw"]
    if match["sep"] and value[0] not in "'\"":
        # A URL query parameter: the password ends where the next parameter starts.
        cut = re.search(r"[&#]", value)
        if cut:
            return match["head"] + MASK + value[cut.start() :]
    return match["head"] + MASK


def mask_passwords(text: str) -> str:
    """The pattern layer alone: every URL and DSN password in `text` masked."""
    return DSN_PASSWORD.sub(_mask_dsn, _mask_urls(text))


def mask_credentials(text: str, params: Iterable[str] = CREDENTIAL_PARAMS) -> str:
    """Authorization headers, bearer tokens, and credential parameters' values masked."""
    text = AUTHORIZATION.sub(lambda m: m["head"] + MASK, text)
    text = BEARER.sub(lambda m: m["head"] + MASK, text)
    names = "|".join(re.escape(p) for p in sorted(params, key=len, reverse=True))
    if not names:
        return text
    # ?token=x&... (also percent-encoded in a JSON string); "password": "x"
    text = re.sub(rf"(?i)(?P<head>[?&;](?:{names})=)[^&#\s\"]*", rf"\g<head>{MASK}", text)
    return re.sub(
        rf'(?i)(?P<head>"(?:{names})"\s*:\s*")(?:[^"\\]|\\.)*"', rf'\g<head>{MASK}"', text
    )


def connection_passwords(value: str) -> list[str]:
    """The passwords written in a connection string (a URL or a DSN), raw as written."""
    value = value.strip()
    found = []
    span = password_span(value) if SCHEME.match(value) else None
    if span is not None:
        found.append(value[span[0] : span[1]])
    for match in DSN_PASSWORD.finditer(value):
        password = match["pw"]
        if password[0] in "'\"" and len(password) >= 2:
            password = re.sub(r"\\(.)", r"\1", password[1:-1])
        elif match["sep"]:
            password = re.split(r"[&#]", password)[0]
        found.append(password)
    return [p for p in found if p]


def _fragments(password: str) -> Iterator[str]:
    """The pieces of a password a client shows when it splits a malformed URL at a delimiter."""
    for delimiter in PASSWORD_DELIMITERS.finditer(password):
        yield password[: delimiter.start()]
        yield password[delimiter.end() :]
    yield from PASSWORD_DELIMITERS.split(password)


def _forms(value: str) -> set[str]:
    """A secret as written, percent-decoded, and percent-encoded."""
    decoded = unquote(value)
    return {
        value,
        decoded,
        quote(decoded, safe=""),
        quote_plus(decoded, safe=""),
        quote(value, safe=""),
    }


class Redactor:
    """Masks known secret values and URL/DSN passwords in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] = []
        for value in secrets:
            self.add(value)

    @classmethod
    def from_environment(cls, extra: Mapping[str, str] | None = None) -> Redactor:
        redactor = cls()
        for source in (os.environ, dict(extra or {})):
            for name, value in source.items():
                if SECRET_NAME.search(name):
                    redactor.add_from_variable(name, value)
        return redactor

    def add_from_variable(self, name: str, value: str) -> None:
        """Register a variable's secret: the passwords in a connection string, or the value."""
        passwords = connection_passwords(value)
        for password in passwords:
            self.add(password)
            for fragment in _fragments(password):
                self.add(fragment)
        if not passwords and not CONNECTION_NAME.search(name):
            self.add(value)

    def add(self, value: str) -> None:
        """Mask `value` wherever it appears, in every form (decoded, encoded)."""
        for form in _forms(value):
            if len(form) >= MIN_SECRET_LENGTH:
                self._secrets.add(form)
        self._ordered = sorted(self._secrets, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if text.lstrip()[:1] in ("{", "["):
            redacted = self._json(text)
            if redacted is not None:
                return redacted
        return self._text(text)

    def _text(self, text: str) -> str:
        text = mask_passwords(text)
        for secret in self._ordered:  # longest first: a secret's pieces are secrets too
            text = text.replace(secret, MASK)
        return text

    def _json(self, text: str) -> str | None:
        """JSON redacted string by string, or None when `text` is not JSON."""
        try:
            json.loads(text)
        except ValueError:
            return None

        def one(match: re.Match[str]) -> str:
            literal = match[0]
            value = json.loads(literal)
            redacted = self._text(value)
            if redacted == value:
                return literal
            return json.dumps(redacted, ensure_ascii=literal.isascii())

        return JSON_STRING.sub(one, text)
