"""SEC-R03's database side: the API role's password, changed in PostgreSQL with its URL.

The Secret key that holds the application's database URL (security_response.database_key,
DATABASE_URL) names the role and its password. Rotating it changes the role's password
(`ALTER ROLE ... PASSWORD`, as the fixer role: it needs CREATEROLE) and writes the new URL
into the Secret in one ordered plan. The new password is sent already hashed (SCRAM, by
libpq's PQencryptPasswordConn), so its clear text never reaches the server or its logs.
The rotation holds until a real connection with the new password works and one with the
old password is refused; otherwise the old password is set again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from opscheck import ActionResult

Conn = psycopg.Connection[Any]


def url_credentials(url: str) -> tuple[str, str] | None:
    """The (role, password) a database URL carries, or None without both."""
    parts = urlsplit(url)
    if not parts.username or parts.password is None:
        return None
    return unquote(parts.username), unquote(parts.password)


def with_password(url: str, password: str) -> str:
    """The URL with its password replaced (percent-encoded), everything else kept."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


class RolePassword:
    """One role's password on the fixer's server: set it, and test it by connecting."""

    def __init__(self, fixer: Conn, role: str, connect_timeout_s: float) -> None:
        self.fixer, self.role, self.timeout_s = fixer, role, connect_timeout_s

    def set(self, password: str) -> None:
        verifier = self.fixer.pgconn.encrypt_password(password.encode(), self.role.encode())
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(self.role), sql.Literal(verifier.decode())
        )
        self.fixer.execute(statement)

    def works(self, password: str) -> bool:
        info = self.fixer.info
        try:
            with psycopg.connect(
                host=info.host, port=info.port, dbname=info.dbname, user=self.role,
                password=password, connect_timeout=max(1, int(self.timeout_s)),
                application_name="rolerabbit-opscheck",
            ) as conn:  # fmt: skip
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def verify(self, new: str, old: str) -> ActionResult:
        """The new password connects and the old one no longer does; ValueError if not."""
        if not self.works(new):
            raise ValueError(f"a connection as {self.role} with the new password failed")
        if self.works(old):
            raise ValueError(f"a connection as {self.role} with the old password still works")
        return ActionResult(
            f"role {self.role}: the new password connects, the old one is refused",
            [{"role": self.role, "new_password": "connects", "old_password": "refused"}],
        )
