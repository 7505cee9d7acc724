"""Redaction: every form of password a user can write is masked; users and hosts stay visible."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote

import pytest

from fixtures.postgres import describe_target as pg_target
from fixtures.redis_client import describe_target as redis_target
from opscheck.redaction import MASK, Redactor, connection_passwords, mask_passwords

# (connection string, its password exactly as written, what must stay visible)
URLS = [
    ("postgresql://monitor:Leak@Secret123@db.internal/rr", "Leak@Secret123", ["monitor"]),
    ("postgresql://monitor:Pass:Word:Colon@db.internal:5432/rr", "Pass:Word:Colon", ["monitor"]),
    ("postgresql://monitor:Abc/Def/Ghi@db.internal:5432/rr", "Abc/Def/Ghi", ["monitor"]),
    ("postgresql://monitor:Hash#Tag@db.internal:5432/rr", "Hash#Tag", ["monitor"]),
    ("postgresql://monitor:Ask?Query@db.internal:5432/rr", "Ask?Query", ["monitor"]),
    (
        "postgresql://monitor:Ab1@Cd2:Ef3/Gh4#Ij5?Kl6@db.internal:5432/rr?sslmode=require",
        "Ab1@Cd2:Ef3/Gh4#Ij5?Kl6",
        ["monitor", "sslmode=require"],
    ),
    ("postgresql://monitor:Tail@@@@db.internal/rr", "Tail@@@", ["monitor"]),
    ("postgresql://monitor:Pct%40Enc%3AOded%2FPw@db.internal/rr", "Pct%40Enc%3AOded%2FPw", []),
    ("redis://:R3dis@Pass/Word@db.internal:6379/0", "R3dis@Pass/Word", ["redis://:"]),
    ("rediss://default:Tls:Pass@Word@db.internal:6380", "Tls:Pass@Word", ["default"]),
    ("postgresql+psycopg://monitor:Drv@Pass@db.internal/rr", "Drv@Pass", ["monitor"]),
    ("postgresql://ops@corp:Usr@Pass@db.internal/rr", "Usr@Pass", ["ops@corp"]),
    ("postgresql://monitor:Quo'te\"Pw@db.internal/rr", "Quo'te\"Pw", ["monitor"]),
    ("postgresql://monitor:Six@Ip6:Pw@[2001:db8::1]:5432/rr", "Six@Ip6:Pw", ["[2001:db8::1]:5432"]),
    ("postgresql://monitor:Multi@Host@h1:5432,db.internal:5433/rr", "Multi@Host", ["h1:5432"]),
]
# How a connection string appears in a message.
CONTEXTS = [
    "{}",
    "cannot use {} (connection refused)",
    'connecting to "{}" failed',
    "url='{}', retries=3",
    "<{}>",
    "a\n  evidence: {}\n  next line",
]
# (DSN text, its password, what must stay visible)
DSNS = [
    ("host=db.internal user=monitor password=S3cretValue dbname=rr", "S3cretValue", ["dbname=rr"]),
    (
        "host=db.internal password='Spa ced Sec ret' user=monitor",
        "Spa ced Sec ret",
        ["user=monitor"],
    ),
    ("host=db.internal password = Spaced@Equals user=monitor", "Spaced@Equals", ["user=monitor"]),
    (r"host=db.internal password='Esc\'aped Pw' user=monitor", r"Esc\'aped Pw", ["user=monitor"]),
    ("host=db.internal PASSWORD=Upper:Case/Pw port=5432", "Upper:Case/Pw", ["port=5432"]),
    ("PGPASSWORD=EnvStyle@Pw psql -h db.internal -U monitor", "EnvStyle@Pw", ["psql -h"]),
    ('DB_PASSWORD="Dbl Quoted" ./run db.internal', "Dbl Quoted", ["./run"]),
    (
        "postgresql://db.internal/rr?user=monitor&password=Qu3ry%40Pw&sslmode=require",
        "Qu3ry%40Pw",
        ["user=monitor", "&sslmode=require"],
    ),
]
HARMLESS = [
    "http://db.internal:8080/metrics",
    "http://[::1]:8080/api/health",
    "https://status.stripe.com/api/v2/status.json",
    "postgresql://monitor@db.internal:5432/rr",
    "redis://db.internal:6379/0",
    "host=db.internal user=monitor dbname=rr",
    "password authentication failed for user monitor",
]


def fragments(password: str) -> list[str]:
    """The pieces of a password, decoded too, of length 3 or more: none may survive."""
    pieces = set()
    for form in (password, unquote(password)):
        pieces |= {p for p in re.split(r"[@:/#?%'\"\\ ]", form) if len(p) >= 3}
    return sorted(pieces)


def assert_masked(text: str, password: str, visible: list[str]) -> None:
    assert MASK in text
    for piece in fragments(password):
        assert piece not in text, f"{piece!r} of the password survives in {text!r}"
    for kept in visible:
        assert kept in text, f"{kept!r} must stay visible in {text!r}"


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize(("url", "password", "visible"), URLS)
def test_url_passwords_are_masked_in_every_form(
    url: str, password: str, visible: list[str], context: str
):
    text = Redactor()(context.format(url))
    host = "[2001:db8::1]" if "[" in url else "db.internal"
    assert_masked(text, password, [*visible, host])
    assert context.format("X").split("X")[0] in text, "the text around the URL is kept"


@pytest.mark.parametrize(("dsn", "password", "visible"), DSNS)
def test_dsn_passwords_are_masked(dsn: str, password: str, visible: list[str]):
    assert_masked(Redactor()(dsn), password, [*visible, "db.internal"])


@pytest.mark.parametrize("text", HARMLESS)
def test_text_without_a_password_is_unchanged(text: str):
    assert Redactor()(text) == text


def test_two_urls_in_one_line_each_keep_their_host():
    text = mask_passwords("from redis://:R3d@Pw@r.internal:6379 to postgresql://u:Pg@Pw@p.internal")
    assert text == "from redis://:***@r.internal:6379 to postgresql://u:***@p.internal"


def test_a_url_inside_another_is_masked():
    text = mask_passwords("see http://api/?next=postgresql://u:Inner@Pw@db.internal/rr")
    assert text == "see http://api/?next=postgresql://u:***@db.internal/rr"


@pytest.mark.parametrize(("url", "password", "visible"), URLS)
def test_connection_passwords_reads_a_url_password_as_written(
    url: str, password: str, visible: list[str]
):
    assert connection_passwords(url) == [password]


def test_connection_passwords_reads_dsn_values_unquoted():
    assert connection_passwords(r"host=h password='it\'s a b' user=u") == ["it's a b"]
    assert connection_passwords("host=h password=Plain@Pw") == ["Plain@Pw"]
    query = "postgresql://h/db?user=u&password=Qu3ry%40Pw&sslmode=require"
    assert connection_passwords(query) == ["Qu3ry%40Pw"]
    assert connection_passwords("postgresql://monitor@h:5432/db") == []


# -- the literal values of secret variables ------------------------------------------------

MALFORMED = "postgresql://monitor:Leak@Secret123:Colon9/Slash7@db.internal:5432/rolerabbit"


def test_a_malformed_variable_masks_the_password_and_every_tail_a_client_shows():
    redact = Redactor.from_environment({"DATABASE_URL": MALFORMED})
    # libpq splits at the first '@' and reports the rest as the host name.
    assert redact('could not translate host name "Secret123:Colon9/Slash7@db.internal"') == (
        'could not translate host name "***@db.internal"'
    )
    # urllib/redis-py split at the first '/' and report the rest as the port or the path.
    for shown in ("Leak@Secret123:Colon9", "Slash7@db.internal:5432/rolerabbit", "Secret123"):
        redacted = redact(f"invalid value {shown!r}")
        assert all(piece not in redacted for piece in fragments("Leak@Secret123:Colon9/Slash7"))


def test_a_variable_password_is_masked_raw_decoded_and_encoded():
    redact = Redactor.from_environment(
        {"DATABASE_URL": "postgresql://monitor:Pct%40Enc%2FPw@db.internal/rr"}
    )
    for form in ("Pct%40Enc%2FPw", "Pct@Enc/Pw"):
        assert redact(f"value {form} here") == f"value {MASK} here"
    redact = Redactor.from_environment({"JWT_SECRET": "raw secret/with@specials"})
    for form in ("raw secret/with@specials", quote("raw secret/with@specials", safe="")):
        assert redact(f"token={form};") == "token=***;"


def test_a_dsn_variable_masks_its_password_only():
    redact = Redactor.from_environment(
        {"DATABASE_URL": "host=db.internal user=monitor password='dsn secret value'"}
    )
    assert redact("the value dsn secret value leaked") == "the value *** leaked"
    assert redact("host db.internal") == "host db.internal"


def test_a_url_variable_without_password_masks_nothing():
    redact = Redactor.from_environment({"API_URL": "http://api.internal:3000"})
    assert redact("GET http://api.internal:3000/health") == "GET http://api.internal:3000/health"


def test_short_values_are_not_registered_and_add_is_public():
    redact = Redactor(["abc"])
    redact.add("runtime-token-42")
    assert redact("abc runtime-token-42") == "abc ***"


# -- JSON documents stay valid ------------------------------------------------------------


@pytest.mark.parametrize("indent", [None, 2])
def test_json_is_redacted_string_by_string_and_stays_valid(indent: int | None):
    redact = Redactor.from_environment({"DATABASE_URL": MALFORMED})
    document = {
        "message": f"cannot use {MALFORMED}",
        "evidence": ['host=db.internal password="Js\\"on Pw"', "tail Secret123 seen"],
        "params": {"dsn": "password=Abc@Def", "n": 3},
        "quote": 'postgresql://u:Q"uo\\te@db.internal/rr',
    }
    text = redact(json.dumps(document, indent=indent))
    parsed = json.loads(text)
    assert parsed["message"] == "cannot use postgresql://monitor:***@db.internal:5432/rolerabbit"
    assert parsed["evidence"] == ["host=db.internal password=***", "tail *** seen"]
    assert parsed["params"] == {"dsn": "password=***", "n": 3}
    assert parsed["quote"] == "postgresql://u:***@db.internal/rr"
    assert text.count("\n") == (0 if indent is None else json.dumps(document, indent=2).count("\n"))


# -- targets named in connection failures -----------------------------------------------------


def test_failure_targets_name_the_host_never_the_password_tail():
    assert pg_target(MALFORMED) == "db.internal:5432/rolerabbit"
    assert pg_target("host=db.internal port=5433 password='a b' dbname=rr") == (
        "db.internal:5433/rr"
    )
    assert redis_target("redis://:Pass/Word#Hash@redis.internal:6380/1") == "redis.internal:6380/1"
