"""A private PostgreSQL 15 for the lab: data dir in the state dir, TCP on 127.0.0.1 only.

First start runs initdb, then loads `lab/sql/schema.sql` and `seed.sql` as the
app role, creates pg_stat_statements and the three roles the suite uses:

    rolerabbit_app      owns the schema objects (the API connects as it)
    rolerabbit_monitor  read-only: pg_monitor, CONNECT, SELECT on app tables
    rolerabbit_fixer    pg_signal_backend, member of rolerabbit_app (VACUUM/
                        ANALYZE/REFRESH need ownership in PG15), ALTER SYSTEM on
                        log_min_duration_statement, EXECUTE on pg_reload_conf()

Seeding happens in a database named `rolerabbit_seeding` that is renamed to
`rolerabbit` only when complete, so a start interrupted mid-seed is redone.

When run as root, initdb and postgres run as the `postgres` OS user (initdb
refuses root). If that user cannot reach the state dir (a checkout in root's
0700 home, say), the data dir lives outside it, in
`<temp dir>/rolerabbit-lab-pg-<hash of the state dir>/data` (a private dir owned
by `postgres` under a temp dir it can traverse), and `<state dir>/postgres/data`
is a symlink to it. The server is always given the resolved path and runs from
there, since it cannot follow a link it cannot reach; `lab status` names the
place.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from lab.errors import actionable
from lab.services.base import LabContext, Service
from lab.settings import DATABASE

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
PG_OS_USER = "postgres"

LAB_CONF = """\
# Written by the lab. Settings the suite may change (e.g. log_min_duration_statement
# via ALTER SYSTEM) are deliberately not here or on the command line.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
max_connections = 100
shared_buffers = 32MB
# The lab's data is disposable: trade durability for start and seed speed.
fsync = off
synchronous_commit = off
full_page_writes = off
log_destination = 'stderr'
logging_collector = off
track_io_timing = on
# The runbook's slow query log, on in a healthy lab (a fault may switch it off).
log_min_duration_statement = 1000
"""


def find_bindir() -> Path:
    """PostgreSQL's bin dir: $LAB_POSTGRES_BINDIR if set, else `pg_config --bindir`,
    the newest /usr/lib/postgresql/*/bin, or initdb's directory on PATH."""
    candidates: list[Path] = []
    forced = os.environ.get("LAB_POSTGRES_BINDIR")
    if forced:
        candidates.append(Path(forced))
    pg_config = shutil.which("pg_config")
    if pg_config and not forced:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=5, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    if not forced:
        candidates += [
            Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        ]
        found = shutil.which("initdb")
        if found:
            candidates.append(Path(found).resolve().parent)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    raise actionable(
        "PostgreSQL server binaries (initdb, postgres) were not found.",
        f"$LAB_POSTGRES_BINDIR={forced}"
        if forced
        else "`pg_config --bindir`, /usr/lib/postgresql/*/bin and PATH",
        [
            "install them: apt-get install postgresql",
            "or point LAB_POSTGRES_BINDIR at the directory holding initdb and postgres",
        ],
    )


def superuser_dsn(ctx: LabContext, dbname: str = "postgres") -> str:
    return (
        f"host=127.0.0.1 port={ctx.settings.postgres_port} dbname={dbname} user=postgres "
        f"password={ctx.credentials.superuser_password} connect_timeout=3"
    )


def role_url(ctx: LabContext, role: str, password: str) -> str:
    return f"postgresql://{role}:{password}@127.0.0.1:{ctx.settings.postgres_port}/{DATABASE}"


class PostgresService(Service):
    name = "postgres"
    # SIGINT is PostgreSQL's "fast shutdown"; only the postmaster gets it.
    stop_signal = signal.SIGINT
    leader_only_stop = True
    ready_timeout = 30.0

    def __init__(self, ctx: LabContext) -> None:
        super().__init__(ctx)
        self.bindir = find_bindir()

    @property
    def port(self) -> int:
        return self.ctx.settings.postgres_port

    @property
    def data_dir(self) -> Path:
        """Where the state dir keeps the data: the directory itself, or a link to it."""
        return self.ctx.paths.postgres / "data"

    @property
    def server_data_dir(self) -> Path:
        """The data dir as the server sees it: the link resolved (see the module doc)."""
        return self.data_dir.resolve()

    def data_location(self) -> dict[str, str | None]:
        """Where the data lives, for `lab status`: the path, and the link in the state dir."""
        linked = self.data_dir.is_symlink()
        return {
            "path": str(self.server_data_dir),
            "linked_from": str(self.data_dir) if linked else None,
        }

    def working_dir(self) -> Path | None:
        # A cwd the postgres OS user can enter: PostgreSQL resolves its own paths from it.
        return self.server_data_dir.parent if self.run_as() else None

    def run_as(self) -> str | None:
        return PG_OS_USER if os.geteuid() == 0 else None

    def command(self) -> list[str]:
        return [
            str(self.bindir / "postgres"),
            "-D",
            str(self.server_data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            # TCP only: no unix socket anywhere outside the state dir.
            "-c",
            "unix_socket_directories=",
        ]

    # -- first start: initdb --------------------------------------------------
    def prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            self._remove_stale_postmaster_pid()
            return
        self._make_data_dir()
        data_dir = self.server_data_dir
        pwfile = data_dir.parent / f".pw-{os.getpid()}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.ctx.credentials.superuser_password + "\n")
        try:
            self._chown(pwfile)
            result = subprocess.run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=reject",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                capture_output=True,
                text=True,
                timeout=120,
                user=self.run_as(),
                cwd=self.working_dir(),
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise actionable(
                f"initdb failed (exit {result.returncode}): {result.stderr.strip()[-400:]}",
                f"data dir {data_dir}"
                + (f" (linked from {self.data_dir})" if self.data_dir.is_symlink() else ""),
                ["remove the state dir's postgres/ folder and run `lab up` again"],
            )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\ninclude 'lab.conf'\n")
        (self.data_dir / "lab.conf").write_text(LAB_CONF)
        (self.data_dir / "pg_hba.conf").write_text(
            "# Written by the lab: password (scram) over loopback TCP only. The server listens\n"
            "# on 127.0.0.1; a client bound to another loopback address (security-mass-update's\n"
            "# 127.0.0.2) is an unexpected client_addr to the suite, still loopback here.\n"
            "host all all 127.0.0.0/8 scram-sha-256\n"
        )
        for name in ("lab.conf", "pg_hba.conf"):
            self._chown(self.data_dir / name)

    def _chown(self, path: Path) -> None:
        if self.run_as():
            shutil.chown(path, user=PG_OS_USER, group=PG_OS_USER)

    def _reachable(self, path: Path) -> bool:
        if not self.run_as():
            return True
        probe = subprocess.run(["test", "-x", str(path)], user=PG_OS_USER, timeout=10, check=False)
        return probe.returncode == 0

    def _make_data_dir(self) -> None:
        parent = self.ctx.paths.postgres
        parent.mkdir(parents=True, exist_ok=True)
        parent.chmod(0o755)
        if self.data_dir.is_symlink():
            self.data_dir.unlink()
        if self._reachable(parent):
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            self._chown(self.data_dir)
            return
        # The postgres user cannot traverse to the state dir (a 0700 ancestor such
        # as /root or pytest's /tmp/pytest-of-root): keep the data in a private
        # temp dir it owns, referenced from the state dir by a symlink.
        digest = hashlib.sha1(str(self.ctx.paths.root).encode()).hexdigest()[:12]
        outside = self._outside_root() / f"rolerabbit-lab-pg-{digest}"
        if outside.exists():
            shutil.rmtree(outside)
        outside.mkdir(mode=0o700)
        (outside / "data").mkdir(mode=0o700)
        for path in (outside, outside / "data"):
            self._chown(path)
        self.data_dir.symlink_to(outside / "data")

    def _outside_root(self) -> Path:
        """A temp dir the postgres user can traverse ($TMPDIR may be a private one)."""
        candidates = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")]
        for candidate in candidates:
            if candidate.is_dir() and self._reachable(candidate):
                return candidate
        raise actionable(
            f"the {PG_OS_USER} OS user can reach neither the state dir nor a temp dir.",
            f"`test -x` as {PG_OS_USER} on {self.ctx.paths.postgres} and "
            + ", ".join(str(c) for c in candidates),
            [
                f"use a state dir {PG_OS_USER} can traverse: lab --state-dir DIR up",
                f"or let it traverse a temp dir: chmod o+x {candidates[0]}",
            ],
        )

    def _remove_stale_postmaster_pid(self) -> None:
        """A postmaster.pid left by a killed server is removed unless its postgres runs."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if "postgres" in proc.name():
                # An orphan of a crashed lab still serves this data dir: stop it.
                os.kill(pid, signal.SIGINT)
                proc.wait(timeout=15)
                return
        print(f"removed stale PostgreSQL pid file {pidfile} (pid {pid} is not running)")
        pidfile.unlink(missing_ok=True)

    # -- readiness and first-boot bootstrap ----------------------------------
    def healthy(self) -> bool:
        try:
            with psycopg.connect(superuser_dsn(self.ctx), connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def after_ready(self) -> None:
        with psycopg.connect(superuser_dsn(self.ctx), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if exists:
                return
            self._create_roles(conn)
            conn.execute("DROP DATABASE IF EXISTS rolerabbit_seeding")
            conn.execute("CREATE DATABASE rolerabbit_seeding OWNER rolerabbit_app")
        with psycopg.connect(superuser_dsn(self.ctx, "rolerabbit_seeding"), autocommit=True) as db:
            self._load_schema(db)
        with psycopg.connect(superuser_dsn(self.ctx), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE rolerabbit_seeding RENAME TO {DATABASE}")

    def _create_roles(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        creds = self.ctx.credentials
        for role, password in (
            ("rolerabbit_app", creds.app_password),
            ("rolerabbit_monitor", creds.monitor_password),
            ("rolerabbit_fixer", creds.fixer_password),
        ):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
        conn.execute("GRANT pg_monitor TO rolerabbit_monitor")
        conn.execute("GRANT pg_signal_backend TO rolerabbit_fixer")
        conn.execute("GRANT rolerabbit_app TO rolerabbit_fixer")
        conn.execute(
            "GRANT ALTER SYSTEM ON PARAMETER log_min_duration_statement TO rolerabbit_fixer"
        )
        # SEC-R03 rotates the API role's password (ALTER ROLE ... PASSWORD needs CREATEROLE).
        conn.execute("ALTER ROLE rolerabbit_fixer CREATEROLE")

    def _load_schema(self, db: psycopg.Connection[tuple[object, ...]]) -> None:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        db.execute("SET ROLE rolerabbit_app")
        db.execute((SQL_DIR / "schema.sql").read_text().encode())
        db.execute((SQL_DIR / "seed.sql").read_text().encode())
        # This session's insert counts reach pg_stat_user_tables only when flushed; flushed
        # after ANALYZE they would double n_live_tup and count every seed row as changed
        # since the analyze (DB-114 on a fresh lab). Flush them first.
        db.execute("SELECT pg_stat_force_next_flush()")
        db.execute("ANALYZE")
        db.execute("REFRESH MATERIALIZED VIEW portfolio_analytics_monthly")
        db.execute("REFRESH MATERIALIZED VIEW portfolio_analytics_yearly")
        db.execute("RESET ROLE")
        for role in ("rolerabbit_monitor", "rolerabbit_fixer"):
            db.execute(f"GRANT CONNECT ON DATABASE rolerabbit_seeding TO {role}")
            db.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        db.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO rolerabbit_monitor")
        db.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO rolerabbit_fixer")
        # Function privileges are per database: grant in the app database.
        db.execute("GRANT EXECUTE ON FUNCTION pg_reload_conf() TO rolerabbit_fixer")
