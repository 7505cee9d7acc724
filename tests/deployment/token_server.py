"""A small real token server for docker-registry's `auth: token` (the distribution token flow).

It makes an RSA key and a self-signed certificate (the registry's `rootcertbundle`), and
answers `GET /token?service=...&scope=repository:NAME:pull` over HTTP: with the right Basic
credentials a JWT (RS256, the certificate in `x5c`) granting that scope; with wrong ones 401;
anonymously a token granting nothing. It records who asked for what, and the tokens issued.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER, SERVICE = "test-issuer", "test-registry"


def self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token signer")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


class TokenServer:
    USER, PASSWORD = "tok-user", "tok-pass-" + secrets.token_hex(6)

    def __init__(self, where: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert = self_signed(self.key)
        self.bundle = where / "token-root.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.asked: list[tuple[str, str, str]] = []  # (user or "", service, scope)
        self.issued: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def auth(self) -> dict[str, Any]:
        """The registry config's `auth:` section for this server."""
        return {
            "token": {
                "realm": self.url,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(self.bundle),
            }
        }

    def token(self, user: str, scope: str) -> str:
        access = []
        if user and scope.count(":") == 2:
            kind, name, actions = scope.split(":")
            access = [{"type": kind, "name": name, "actions": actions.split(",")}]
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        x5c = [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": x5c})
        self.issued.append(token)
        return token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    pair = base64.b64decode(header[6:]).decode()
                    if pair != f"{outer.USER}:{outer.PASSWORD}":
                        self._send(401, b'{"errors": [{"code": "UNAUTHORIZED"}]}')
                        return
                    user = outer.USER
                scope = (query.get("scope") or [""])[0]
                outer.asked.append((user, (query.get("service") or [""])[0], scope))
                body = f'{{"token": "{outer.token(user, scope)}"}}'.encode()
                self._send(200, body)

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> TokenServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
