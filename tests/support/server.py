"""A real ccpq server in a subprocess, on its own database (fault tests, benchmark)."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.cli import alembic_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrate(engine: Engine) -> None:
    """The schema at its newest revision, in one transaction."""
    config = alembic_config()
    config.attributes["configure_logger"] = False
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def fresh_database(base_url: str | None, *, name: str, tmp_dir: Path) -> str:
    """A new empty database: a SQLite file, or ``<testdb>_<name>`` on the PostgreSQL server."""
    if not base_url or make_url(base_url).get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_dir / f'{name}.sqlite3'}"
    url = make_url(base_url)
    database = f"{url.database}_{name}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return url.set(database=database).render_as_string(hide_password=False)


class Server:
    """``uvicorn app.main:app`` that can be killed (SIGKILL) and started again."""

    def __init__(self, database_url: str, *, workers: int = 1, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.workers = workers
        self.env = {
            **os.environ,
            "CCPQ_DATABASE_URL": database_url,
            "CCPQ_ENV": "test",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: an undrained pipe would block the server once full.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open as long as the server
            prefix="ccpq-server-", suffix=".log", delete=False
        )

    def start(self, timeout: float = 20) -> "Server":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--log-level",
                "warning",
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"le serveur s'est arrêté au démarrage :\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"le serveur ne répond pas sur {self.url} après {timeout} s")

    def output(self) -> str:
        """What the server printed so far."""
        return Path(self.log.name).read_text(errors="replace")

    def cpu_seconds(self) -> float:
        """Processor time (user and system) the server's processes have used so far: the
        supervisor and its workers, read from Linux's /proc."""
        used = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid, rest = stat.read_text().split(" (", 1)
            except OSError:  # gone meanwhile
                continue
            fields = rest.rsplit(") ", 1)[1].split()  # from the state on (field 3 of stat)
            if self.process.pid in (int(pid), int(fields[1])):  # itself, or its child
                used += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return used / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hook runs, as in a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
