"""Push tiny images to a registry through the OCI distribution HTTP API.

Each tag is a real image: an OCI image manifest naming a config blob (which records the tag)
and one gzip'd tar layer (one small file). Blobs go up as POST then PUT uploads, manifests
by PUT. Idempotent and cheap to repeat: a blob the registry has is not uploaded again, and a
tag whose manifest is already the one we would push costs one HEAD.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class PushError(Exception):
    """The registry refused or did not answer a push (the message names the request)."""


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


def _layer(repository: str) -> tuple[Blob, str]:
    """A gzip'd tar with one file naming the repository; and its uncompressed digest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        body = f"{repository}\n".encode()
        info = tarfile.TarInfo("etc/rolerabbit-image")
        info.size, info.mtime, info.mode = len(body), 0, 0o644
        tar.addfile(info, io.BytesIO(body))
    tar_bytes = raw.getvalue()
    packed = gzip.compress(tar_bytes, mtime=0)
    return Blob(OCI_LAYER, packed), "sha256:" + hashlib.sha256(tar_bytes).hexdigest()


def image(repository: str, tag: str) -> tuple[Blob, Blob, Blob]:
    """(config, layer, manifest) of one tag; deterministic, so a re-push is a no-op."""
    layer, diff_id = _layer(repository)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"org.opencontainers.image.version": tag}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_blob = Blob(OCI_CONFIG, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_blob.descriptor(),
        "layers": [layer.descriptor()],
    }
    return config_blob, layer, Blob(OCI_MANIFEST, json.dumps(manifest, sort_keys=True).encode())


class RegistryPusher:
    """Pushes to one registry endpoint (http://host:port), with Basic credentials or none."""

    def __init__(
        self, endpoint: str, username: str = "", password: str = "", timeout: float = 5.0
    ) -> None:
        self.endpoint, self.timeout = endpoint.rstrip("/"), timeout
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._auth = f"Basic {token}" if username else ""
        self.requests = 0

    def _call(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] = {}
    ) -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
        if self._auth:
            request.add_header("Authorization", self._auth)
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return response.status, dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, dict(exc.headers.items())
        except (urllib.error.URLError, OSError) as exc:
            raise PushError(f"{method} {url}: {getattr(exc, 'reason', exc)}") from None

    def _expect(self, status: int, wanted: int, what: str) -> None:
        if status != wanted:
            raise PushError(f"{what}: HTTP {status} from {self.endpoint} (expected {wanted})")

    def put_blob(self, name: str, blob: Blob) -> None:
        status, _ = self._call("HEAD", f"{self.endpoint}/v2/{name}/blobs/{blob.digest}")
        if status == 200:
            return
        status, headers = self._call("POST", f"{self.endpoint}/v2/{name}/blobs/uploads/", b"")
        self._expect(status, 202, f"starting an upload to {name}")
        location = urllib.parse.urljoin(self.endpoint + "/", headers.get("Location") or "")
        joiner = "&" if "?" in location else "?"
        url = f"{location}{joiner}digest={urllib.parse.quote(blob.digest)}"
        headers = {"Content-Type": "application/octet-stream"}
        status, _ = self._call("PUT", url, blob.data, headers)
        self._expect(status, 201, f"uploading blob {blob.digest} to {name}")

    def push(self, name: str, tag: str) -> bool:
        """Push `name:tag` (name without the registry host); False if it was there already."""
        config, layer, manifest = image(name, tag)
        url = f"{self.endpoint}/v2/{name}/manifests/{tag}"
        status, headers = self._call("HEAD", url, headers={"Accept": OCI_MANIFEST})
        if status == 200 and headers.get("Docker-Content-Digest") == manifest.digest:
            return False
        for blob in (layer, config):
            self.put_blob(name, blob)
        status, _ = self._call("PUT", url, manifest.data, {"Content-Type": OCI_MANIFEST})
        self._expect(status, 201, f"pushing the manifest of {name}:{tag}")
        return True

    def push_all(self, repositories: Mapping[str, Sequence[str]]) -> int:
        """Push every tag of every repository (`host/name` or `name` keys); how many were new."""
        pushed = 0
        for repository, tags in repositories.items():
            name = repository_name(repository)
            pushed += sum(self.push(name, tag) for tag in tags)
        return pushed


def repository_name(repository: str) -> str:
    """`ghcr.io/rolerabbit/app` -> `rolerabbit/app`: the name within its registry."""
    first, _, rest = repository.partition("/")
    return rest if rest and ("." in first or ":" in first or first == "localhost") else repository
