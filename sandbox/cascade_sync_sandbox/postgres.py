"""A throwaway PostgreSQL server on loopback, for the Dagster instance in tests and benchmarks: the
Debian `postgresql` server's own `initdb` and `pg_ctl`, a data directory in a temporary folder, a free
port, trust authentication on 127.0.0.1 only. PostgreSQL refuses to run as root; as root, the server
runs as the `postgres` system user."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "install the PostgreSQL server (Debian: apt-get install -y postgresql), or put initdb and pg_ctl on PATH"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    db: str

    def env(self) -> dict[str, str]:
        """The environment config/dagster-postgres.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": "unused-trust-auth",
            "DAGSTER_PG_DB": self.db,
        }

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.db}"

    def fresh_database(self, name: str) -> Postgres:
        """A new, empty database on this server (an older one of that name is dropped first)."""
        import psycopg2

        database = "".join(c if c.isalnum() else "_" for c in name.lower())[-60:]
        con = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=self.db)
        con.autocommit = True
        try:
            with con.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{database}"')
                cur.execute(f'CREATE DATABASE "{database}"')
        finally:
            con.close()
        return Postgres(self.host, self.port, self.user, database)


def server_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} was not found: {INSTALL_HINT}")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")


@contextlib.contextmanager
def postgres_server(*, user: str = "dagster", db: str = "dagster") -> Iterator[Postgres]:
    """Start a server with its data in a new temporary directory, yield its address, stop it and remove
    the directory at the end. (The directory is made under the system temp dir, not a test's tmp_path:
    the server user must be able to reach it.)"""
    directory = Path(tempfile.mkdtemp(prefix="cascade-sync-pg-"))
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (directory, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    _run([server_binary("initdb"), "-D", str(data), "-U", user, "--auth=trust", "--encoding=UTF8", "--no-sync"])
    options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=300"
    _run(
        [
            server_binary("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(directory / "server.log"),
            "start",
        ]
    )
    try:
        _run([server_binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, db])
        yield Postgres("127.0.0.1", port, user, db)
    finally:
        subprocess.run(
            _as_server_user([server_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)
