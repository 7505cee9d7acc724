"""scripts/database-roles on the lab's real PostgreSQL: the SQL it prints works as written.

For fresh roles named in the profile: the superuser runs part 1 of the grants and the
owner (rolerabbit_app, no superuser) part 2; a sweep as the new monitor role is healthy;
then the teardown, whose parameter revoke DROP ROLE needs, leaves no role behind. The
command itself reads only: it changes nothing on the server.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from psycopg import sql as pgsql

from lab.testing import LabHandle
from tests.database.database_support import Run, admin, url_as

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "database-roles"
PART_2 = "-- ===== Part 2"


@pytest.fixture
def roles() -> dict[str, str]:
    suffix = secrets.token_hex(3)
    return {"monitor": f"db_test_mon_{suffix}", "fixer": f"db_test_fix_{suffix}"}


@pytest.fixture
def profiles_file(lab: LabHandle, tmp_path: Path, roles: dict[str, str]) -> Path:
    """The lab's profile, as `roles-test`, with the fresh role names."""
    base = yaml.safe_load(lab.profile_path.read_text())["profiles"]["lab"]
    base["database"] = {"roles": roles}
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"roles-test": base}}))
    return path


def command(profiles: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [str(SCRIPT), "--env", "roles-test", "--config", str(profiles), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def run_parts(lab: LabHandle, text: str, first_as_owner: bool) -> None:
    """Run the SQL as printed: the owner's part as rolerabbit_app, the other as superuser."""
    first, second = text.split(PART_2)
    with admin(lab) as conn:
        for part, as_owner in ((first, first_as_owner), (PART_2 + second, not first_as_owner)):
            conn.execute("SET ROLE rolerabbit_app" if as_owner else "RESET ROLE")
            conn.execute(part.encode())


def existing(lab: LabHandle, names: dict[str, str]) -> set[str]:
    with admin(lab) as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(names.values()),)
        ).fetchall()
    return {r["rolname"] for r in rows}


@pytest.fixture
def cleanup(lab: LabHandle, roles: dict[str, str]) -> Iterator[None]:
    """Whatever a failing test left behind goes (the test itself asserts the teardown)."""
    yield
    with admin(lab) as conn:
        for role in existing(lab, roles):
            conn.execute(pgsql.SQL("DROP OWNED BY {}").format(pgsql.Identifier(role)))
            conn.execute(pgsql.SQL("DROP ROLE {}").format(pgsql.Identifier(role)))


def test_grants_work_as_printed_and_the_teardown_drops_the_roles(
    run_checks: Run,
    lab: LabHandle,
    profiles_file: Path,
    roles: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    cleanup: None,
) -> None:
    printed = command(profiles_file)
    assert printed.returncode == 0, printed.stderr
    grants = printed.stdout
    assert f'GRANT pg_monitor TO "{roles["monitor"]}";' in grants
    assert existing(lab, roles) == set()  # printing ran nothing

    run_parts(lab, grants, first_as_owner=False)  # part 2 runs as the owner, no superuser
    assert existing(lab, roles) == set(roles.values())

    password = secrets.token_urlsafe(12)
    with admin(lab) as conn:
        conn.execute(
            pgsql.SQL("ALTER ROLE {} PASSWORD {}").format(
                pgsql.Identifier(roles["monitor"]), pgsql.Literal(password)
            )
        )
    monkeypatch.setenv("DATABASE_URL", url_as(lab, roles["monitor"], password))
    sweep = run_checks("-m", "database", profile="")  # the lab's own thresholds
    # Every check can see what it judges; none is inconclusive for want of a grant.
    assert set(sweep.statuses().values()) == {"passed"}, sweep.stdout

    teardown = command(profiles_file, "--teardown").stdout
    owner_part, superuser_part = teardown.split(PART_2)
    with admin(lab) as conn:
        conn.execute("SET ROLE rolerabbit_app")
        conn.execute(owner_part.encode())
    # Without the parameter revoke, DROP ROLE fails (rolled back): what the old
    # instructions left a DBA with.
    kept = "\n".join(ln for ln in superuser_part.splitlines() if "ON PARAMETER" not in ln)
    refused = psycopg.errors.DependentObjectsStillExist
    with admin(lab) as conn, pytest.raises(refused) as held, conn.transaction():
        conn.execute((PART_2 + kept).encode())
    assert "privileges for parameter log_min_duration_statement" in str(held.value)

    with admin(lab) as conn:
        conn.execute((PART_2 + superuser_part).encode())
    assert existing(lab, roles) == set()


def test_optional_parts_follow_what_the_database_has(
    lab: LabHandle, profiles_file: Path, roles: dict[str, str], cleanup: None
) -> None:
    """A database with neither the views nor pg_stat_statements: the grants leave both out
    (the old instructions failed on the missing views) and still run."""
    name = f"db_test_bare_{secrets.token_hex(3)}"
    with admin(lab) as conn:
        conn.execute(
            pgsql.SQL("CREATE DATABASE {} OWNER rolerabbit_app").format(pgsql.Identifier(name))
        )
    try:
        password = str(urlsplit(lab.env["DATABASE_URL"]).password)
        url = url_as(lab, "rolerabbit_monitor", password, name)
        printed = command(profiles_file, env={"DATABASE_URL": url})
        assert printed.returncode == 0, printed.stderr
        grants = printed.stdout
        assert "pg_stat_statements not installed" in grants
        assert "--   CREATE EXTENSION pg_stat_statements;" in grants
        assert "-- skipped, not in the database: view portfolio_analytics_monthly" in grants
        assert 'GRANT SELECT ON "portfolio' not in grants
        with admin(lab, name) as conn:
            first, second = grants.split(PART_2)
            conn.execute(first.encode())
            conn.execute("SET ROLE rolerabbit_app")
            conn.execute((PART_2 + second).encode())
        teardown = command(profiles_file, "--teardown", env={"DATABASE_URL": url}).stdout
        with admin(lab, name) as conn:
            first, second = teardown.split(PART_2)
            conn.execute("SET ROLE rolerabbit_app")
            conn.execute(first.encode())
            conn.execute("RESET ROLE")
            conn.execute((PART_2 + second).encode())
        assert existing(lab, roles) == set()
    finally:
        with admin(lab) as conn:
            conn.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(pgsql.Identifier(name)))


def test_a_bad_profile_or_server_is_one_line_and_its_exit_code(
    lab: LabHandle, profiles_file: Path, tmp_path: Path
) -> None:
    unknown = command(profiles_file.with_name("nowhere.yaml"))
    assert unknown.returncode == 4
    assert unknown.stderr.startswith("error: ") and "nowhere.yaml" in unknown.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: {roles-test: {database: {roles: {monitor: ''}}}}\n")
    invalid = command(bad)
    assert invalid.returncode == 4
    assert "profiles.roles-test.database.roles.monitor" in invalid.stderr
    refused = command(
        profiles_file, env={"DATABASE_URL": "postgresql://x:Secret99@127.0.0.1:1/rolerabbit"}
    )
    assert refused.returncode == 1
    assert "cannot reach PostgreSQL at 127.0.0.1:1/rolerabbit (connection refused" in (
        refused.stderr
    )
    assert "Secret99" not in refused.stderr + refused.stdout
    assert refused.stdout == ""
