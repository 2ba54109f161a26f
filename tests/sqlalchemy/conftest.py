"""A private PostgreSQL server for the test session, and a fresh database per test.

The server is Debian's ``postgresql`` package (``/usr/lib/postgresql/N/bin``; ``.ci/run``
installs it), or ``initdb`` on PATH. It runs in a temp directory on a free loopback port,
with durability off (fsync) since nothing outlives the session. ``initdb`` and ``pg_ctl``
refuse to run as root, so as root they run as the ``postgres`` OS user. Without the
binaries, or if the server does not start, the tests fail: they never skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine

from tests.redis.conftest import free_port
from tests.redis.conftest import redis_server as redis_server  # the outbox relays to it

from .models import Base

TEST_DATABASE = "typed_events_test"


def find_postgres_bindir() -> str | None:
    """The directory of ``initdb``/``pg_ctl``: the newest Debian one, else from PATH."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if versions:
        return str(Path(versions[-1]).parent)
    on_path = shutil.which("initdb")
    return str(Path(on_path).parent) if on_path else None


class PostgresServer:
    """One postgres process with its cluster in a temp directory, on a loopback port."""

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="typed-events-pg-"))
        self.data = self.directory / "data"
        self.test_database_created = False
        # As root, the cluster belongs to (and the server runs as) the postgres user.
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            try:
                account = pwd.getpwnam(self.user)
            except KeyError:
                raise RuntimeError(
                    "initdb refuses to run as root and there is no 'postgres' OS user to run "
                    "it as; Debian's postgresql package creates one (apt-get install postgresql)"
                ) from None
            os.chown(self.directory, account.pw_uid, account.pw_gid)

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [os.path.join(self.bindir, args[0]), *args[1:]],
            user=self.user,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            log = self.directory / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}"
                f"{result.stderr}\n{tail}"
            )

    def start(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.directory} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
            "-l", str(self.directory / "server.log"), "-o", options,
        )  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        """A SQLAlchemy URL of ``database`` on this server (user postgres, no password)."""
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A plain autocommit connection to ``database``."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        )


def require_postgres_bindir() -> str:
    """The binaries' directory; fails the test (never skips) without them."""
    bindir = find_postgres_bindir()
    if bindir is None:
        pytest.fail(
            "No PostgreSQL server binaries (initdb, pg_ctl): the outbox tests need a real "
            "PostgreSQL. Install Debian's package (apt-get install postgresql, as .ci/run "
            "does), or put initdb and pg_ctl on PATH.",
            pytrace=False,
        )
    return bindir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One private PostgreSQL server for the whole test session."""
    server = PostgresServer(require_postgres_bindir())
    try:
        server.start()  # inside the try: a half-started server is stopped too
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The SQLAlchemy URL (psycopg 3) of an empty database: the session's test database
    with its ``public`` schema dropped and made anew (much faster than a new database),
    and any connection a previous test left behind cut.
    """
    with postgres_server.admin() as admin:
        if not postgres_server.test_database_created:
            admin.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
            postgres_server.test_database_created = True
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (TEST_DATABASE,),
        )
    with postgres_server.admin(TEST_DATABASE) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return postgres_server.url(TEST_DATABASE)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file, then a fresh PostgreSQL database: the sync tests run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A sync engine on ``database_url`` with the users table created."""
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
