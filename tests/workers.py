"""Real services for delivery tests: a private Redis server and real Celery worker processes.

The worker uses the test database (tests using it are ``transaction=True``, so what the test
commits is what the worker sees) and this Redis as its broker; the test process publishes there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def private_redis(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def worker_database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (pool threads and embedded beat): no goodbye, no acks."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def celery_worker(broker_url: str, workdir: Path, **env_overrides: str) -> Iterator[Worker]:
    """A real ``celery worker -B`` (threads pool, both queues) against the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": broker_url,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_SWEEP_INTERVAL_SECONDS": "0.5",
        "WEBHOOK_LEASE_SECONDS": "3",
        "WEBHOOK_RETRY_DELAY_SCALE": "0.005",
        "WEBHOOK_TOTAL_TIMEOUT_SECONDS": "8",
        "LOG_LEVEL": "INFO",
        **env_overrides,
    }
    log_path = workdir / f"worker-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "helpdesk",
                "worker",
                "-B",
                "-s",
                str(workdir / "beat-schedule"),
                "-Q",
                "celery,webhooks",
                "-P",
                "threads",
                "-c",
                "4",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log_path)
    try:
        deadline = time.monotonic() + 30
        while "ready." not in worker.log():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{worker.log()}")
            time.sleep(0.1)
        yield worker
    finally:
        worker.stop()


@contextmanager
def publishing_to(broker_url: str) -> Iterator[None]:
    """The test process sends tasks to ``broker_url`` instead of running them in-process."""
    from helpdesk.celery import app

    previous = (app.conf.broker_url, app.conf.task_always_eager, settings.CELERY_TASK_ALWAYS_EAGER)
    app.conf.broker_url = broker_url
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _reset_connections(app)
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.task_always_eager, settings.CELERY_TASK_ALWAYS_EAGER = (
            previous
        )
        _reset_connections(app)


def _reset_connections(app) -> None:  # type: ignore[no-untyped-def]
    # Only forget the pools: kombu's global producer registry keeps handing out a pool it
    # created, so closing one here would break later publishes of this process.
    app._pool = None
    app.amqp._producer_pool = None
