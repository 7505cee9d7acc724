"""What the grants command reads: the profile's names, and what exists on its server.

The profile is loaded through opscheck.config exactly as a sweep loads it (the `lab`
profile's secrets come from the lab). DATABASE_URL is used for reading only, in a
read-only session: the server version, pg_stat_statements in pg_extension, the configured
materialized views in pg_matviews and their base tables' change-time columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from checks.database.roles_sql import Found, Names
from fixtures.postgres import connect, describe_target
from opscheck import DependencyUnavailable
from opscheck import config as config_module
from opscheck.environment import Environment
from opscheck.settings.database import DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]

WHAT_EXISTS = """
SELECT current_database() AS database,
       current_setting('server_version_num')::int AS server_version_num,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')
           AS pg_stat_statements
"""

# A configured view exists when pg_matviews lists it (schema-qualified or on the path).
VIEW = """
SELECT EXISTS (SELECT 1 FROM pg_matviews m
               WHERE format('%%I.%%I', m.schemaname, m.matviewname)::regclass
                     = to_regclass(%(view)s)) AS view_exists,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(%(base)s)
               AND a.attname = %(column)s AND a.attnum > 0 AND NOT a.attisdropped)
           AS base_column_exists
"""


class ProfileError(Exception):
    """The profile cannot be loaded: the message names the file and the key."""


class ServerError(Exception):
    """The server could not be read: one line, no secret."""


def load_environment(env: str, config: str | None) -> Environment:
    explicit = config is not None
    path = Path(config) if config else config_module.default_config_path(ROOT)
    state_dir = config_module.lab_state_dir(ROOT)
    try:
        profiles = config_module.available_profiles(path, explicit=explicit)
        profile, problem = config_module.choose(env, profiles, path, state_dir)
    except config_module.ConfigError as exc:
        raise ProfileError(str(exc)) from None
    lab_env = state_dir / "env" if env == config_module.LAB else None
    return Environment.build(env, profile, problem, lab_env)


def names_and_found(env: str, config: str | None) -> tuple[Names, Found]:
    """The profile's names and what its server has, read through DATABASE_URL."""
    environment = load_environment(env, config)
    settings = environment.profile.database
    try:
        url = environment.secret("DATABASE_URL")
        timeouts = environment.profile.timeouts
        with connect(
            url,
            connect_timeout=timeouts.connect_s,
            statement_timeout_ms=timeouts.statement_ms,
            application_name="rolerabbit-opscheck-roles",
        ) as conn:
            conn.execute("SET default_transaction_read_only = on")
            return _read(conn, settings, describe_target(url))
    except DependencyUnavailable as exc:
        raise ServerError(str(exc)) from None
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServerError(f"reading what exists failed: {first}") from None


def _read(
    conn: psycopg.Connection[dict[str, Any]], settings: DatabaseSettings, target: str
) -> tuple[Names, Found]:
    server = conn.execute(WHAT_EXISTS).fetchone() or {}
    roles = settings.roles
    if roles.database and roles.database != server["database"]:
        raise ServerError(
            f"DATABASE_URL ({target}) is database {server['database']}, but "
            f"database.roles.database is {roles.database}: point DATABASE_URL at "
            f"{roles.database} to read what exists there"
        )
    names = Names(
        monitor=roles.monitor,
        fixer=roles.fixer,
        owner=roles.owner,
        database=roles.database or str(server["database"]),
        schema=roles.schema_name,
        monitor_limit=roles.monitor_connection_limit,
        fixer_limit=roles.fixer_connection_limit,
    )
    views, missing, bases, missing_bases = [], [], [], []
    for view in settings.maintenance.matviews:
        params = {"view": view.name, "base": view.base_table, "column": view.base_timestamp}
        row = conn.execute(VIEW, params).fetchone() or {}
        if not row.get("view_exists"):
            missing.append(view.name)
            continue
        views.append(view.name)
        pair = (view.base_table, view.base_timestamp)
        if row.get("base_column_exists"):
            bases.append(pair)
        else:
            missing_bases.append(f"{view.base_table}.{view.base_timestamp}")
    found = Found(
        server_version_num=int(server["server_version_num"]),
        pg_stat_statements=bool(server["pg_stat_statements"]),
        views=views,
        missing_views=missing,
        base_columns=list(dict.fromkeys(bases)),
        missing_bases=list(dict.fromkeys(missing_bases)),
        freshness_query=settings.maintenance.matview_freshness_query is not None,
    )
    return names, found
