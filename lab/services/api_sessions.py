"""The API's login sessions, kept in Redis as a production Node API keeps them.

A successful login creates `sess:<user id>:<session id>` (the user's id and e-mail, with a
TTL) and answers a token `<user id>:<session id>.<signature>`, the signature an
HMAC-SHA256 of the session under the JWT_SECRET the pod started with (its Secret, through
the container's environment). A request is authenticated only when both hold: the
signature verifies under this pod's key, and the session key still exists. So rotating the
key (and restarting the pods) invalidates every token already handed out, and removing the
session keys logs their users out at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets

import redis

SESSION_PREFIX = "sess"
SESSION_TTL_S = 600
STATIC_KEY = "lab-jwt-signing-key-not-a-secret"  # without the emulator: no Secret to read


def signing_key(static: bool) -> str | None:
    """This process's JWT_SECRET (from its container's environment)."""
    return os.environ.get("JWT_SECRET") or (STATIC_KEY if static else None)


def sign(key: str, session: str) -> str:
    digest = hmac.new(key.encode(), session.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Sessions:
    def __init__(self, client: redis.Redis, key: str | None) -> None:
        self.client, self.key = client, key

    def create(self, user_id: int, email: str) -> str:
        """A new session for the user; its token."""
        if self.key is None:
            raise RuntimeError("no JWT_SECRET in this pod's environment")
        session = f"{user_id}:{secrets.token_urlsafe(16)}"
        body = json.dumps({"user_id": user_id, "email": email})
        self.client.set(f"{SESSION_PREFIX}:{session}", body, ex=SESSION_TTL_S)
        return f"{session}.{sign(self.key, session)}"

    def check(self, token: str) -> str | None:
        """Why the token does not authenticate (None: it does)."""
        session, _, signature = token.rpartition(".")
        if self.key is None or not session:
            return "invalid token"
        if not hmac.compare_digest(signature, sign(self.key, session)):
            return "invalid token signature"
        if not self.client.exists(f"{SESSION_PREFIX}:{session}"):
            return "session ended"
        return None
