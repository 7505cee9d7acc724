"""The one classifier every client uses, fed REAL failures: a closed loopback port, a name
that cannot resolve (.invalid never does), a port that accepts but never answers, a private
redis-server that wants a password, and a server that speaks another protocol.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator

import psycopg
import pytest
import redis
import urllib3
from kubernetes import client as k8s
from redis.backoff import NoBackoff
from redis.retry import Retry

from fixtures import postgres, redis_client
from fixtures.failures import Failure, Kind, classify, one_line
from fixtures.http import Http
from fixtures.kubernetes import Kube
from opscheck import DependencyUnavailable
from tests.waiting import wait_until

NOWHERE = "nonexistent.invalid"


def _raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except Exception as exc:  # the failure under test, whatever the library raises
        return exc
    raise AssertionError("expected a failure")


def _unavailable(action: Callable[[], object]) -> DependencyUnavailable:
    with pytest.raises(DependencyUnavailable) as caught:
        action()
    return caught.value


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    return _free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel does) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield int(listener.getsockname()[1])


@pytest.fixture(scope="module")
def redis_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private redis-server on a free loopback port that wants the password "right"."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not on PATH (apt-get install redis-server)"
    port, workdir = _free_port(), tmp_path_factory.mktemp("redis")
    options = ["--port", str(port), "--bind", "127.0.0.1", "--requirepass", "right"]
    options += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    server = subprocess.Popen([binary, *options], stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: _accepts(port), 10, f"redis-server on port {port}")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _redis(
    port: int, host: str = "127.0.0.1", password: str | None = None, timeout: float = 2
) -> redis.Redis:
    """A client that tries once: redis-py retries failed connections with a backoff."""
    return redis.Redis(
        host=host,
        port=port,
        password=password,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _pool() -> urllib3.PoolManager:
    return urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=0.3))


def _kube(host: str) -> Kube:
    configuration = k8s.Configuration(host=host)
    configuration.retries = False
    return Kube(k8s.ApiClient(configuration), (2, 0.3), host)


# -- refused ---------------------------------------------------------------------------------


def test_a_closed_port_is_refused_for_every_client(closed_port: int) -> None:
    refused = Failure(Kind.REFUSED, "connection refused")
    url = f"postgresql://u:p@127.0.0.1:{closed_port}/db"
    assert classify(_raised(lambda: psycopg.connect(url, connect_timeout=2))) == refused
    client = _redis(closed_port)
    assert classify(_raised(client.ping)) == refused
    web = f"http://127.0.0.1:{closed_port}/"
    assert classify(_raised(lambda: _pool().request("GET", web))) == refused


def test_each_client_says_refused_in_its_own_words(closed_port: int) -> None:
    pg = _unavailable(
        lambda: postgres.connect(
            f"postgresql://u:p@127.0.0.1:{closed_port}/db",
            connect_timeout=2,
            statement_timeout_ms=1000,
        )
    )
    assert (pg.reason, pg.hint) == (
        "connection refused within 2s",
        postgres.HINTS["connection refused"],
    )
    url = f"redis://127.0.0.1:{closed_port}/0"
    cache = _unavailable(lambda: redis_client.connect(url, connect_timeout=2, read_timeout=1))
    assert cache.reason == "connection refused within 2s"
    web = _unavailable(lambda: Http(2, 1).get(f"http://127.0.0.1:{closed_port}/"))
    assert web.reason == "connection refused"
    kube = _unavailable(lambda: _kube(f"http://127.0.0.1:{closed_port}").call("GET", "/api"))
    assert (kube.service, kube.reason) == ("the Kubernetes API", "connection refused")


# -- DNS -------------------------------------------------------------------------------------


def test_a_name_that_does_not_resolve_is_a_dns_failure() -> None:
    dns = Failure(Kind.DNS, "DNS lookup failed")
    url = f"postgresql://u:p@{NOWHERE}:5432/db"
    assert classify(_raised(lambda: psycopg.connect(url, connect_timeout=2))) == dns
    client = _redis(6379, NOWHERE)
    assert classify(_raised(client.ping)) == dns
    assert classify(_raised(lambda: _pool().request("GET", f"http://{NOWHERE}/"))) == dns
    assert postgres.classify(_raised(lambda: psycopg.connect(url, connect_timeout=2))) == (
        "DNS lookup failed"
    )


# -- timed out -------------------------------------------------------------------------------


def test_a_port_that_never_answers_times_out(silent_port: int) -> None:
    timed_out = Failure(Kind.TIMED_OUT, "timed out")
    client = _redis(silent_port, timeout=0.3)
    assert classify(_raised(client.ping)) == timed_out
    web = f"http://127.0.0.1:{silent_port}/"
    assert classify(_raised(lambda: _pool().request("GET", web))) == timed_out
    kube = _unavailable(lambda: _kube(f"http://127.0.0.1:{silent_port}").call("GET", "/api"))
    assert kube.reason == "timed out"


# -- authentication and protocol, against a private redis-server -------------------------------


def test_a_wrong_or_missing_redis_password_is_an_authentication_failure(
    redis_with_password: int,
) -> None:
    port = redis_with_password
    authentication = Failure(Kind.AUTHENTICATION, "authentication failed")
    wrong = _redis(port, password="wrong")
    assert classify(_raised(wrong.ping)) == authentication
    missing = _redis(port)
    assert classify(_raised(missing.ping)) == authentication
    url = f"redis://:wrong@127.0.0.1:{port}/0"
    said = _unavailable(lambda: redis_client.connect(url, connect_timeout=2, read_timeout=2))
    assert (said.reason, said.hint) == ("authentication failed", "check the password in REDIS_URL")
    right = _redis(port, password="right")
    assert right.ping() is True
    right.close()


def test_a_server_of_another_protocol_is_a_protocol_failure(redis_with_password: int) -> None:
    error = _raised(lambda: _pool().request("GET", f"http://127.0.0.1:{redis_with_password}/"))
    assert classify(error) == Failure(Kind.PROTOCOL, one_line(error))


# -- one line --------------------------------------------------------------------------------


def test_a_message_is_told_in_one_bounded_line() -> None:
    error = psycopg.OperationalError("  first line\n\tsecond line")
    assert one_line(error) == "first line"
    assert one_line(ValueError("x" * 300)) == "x" * 200
    assert one_line(ValueError("x" * 300), 120) == "x" * 120
    assert one_line(ValueError("")) == "ValueError"
    assert one_line(ValueError(" \n "), empty="?") == "?"


def test_what_no_kind_names_keeps_its_own_words() -> None:
    error = OSError("something\nelse entirely")
    assert classify(error) == Failure(Kind.OTHER, "something")
