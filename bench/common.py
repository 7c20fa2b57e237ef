"""Helpers shared by the benchmark scripts: a database of their own, a server, a load loop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import urllib3

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def bench_environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY="bench-secret-key-not-for-production",
        FIELD_ENCRYPTION_KEYS="q2gJ3m2m5rX8R0d1Wj7yZ4n6bV9cA3eF5hK8pL1sT0U=",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def ensure_database(database_url: str) -> None:
    """Creates the benchmark's PostgreSQL database afresh: every run measures the same state."""
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def run_manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn_server(env: dict[str, str], *, workers: int = 2, threads: int = 8) -> Iterator[str]:
    """The app under gunicorn (``workers`` processes x ``threads``), on a free loopback port."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "helpdesk.wsgi:application",
            f"--workers={workers}",
            # One thread: gunicorn's sync worker, which accepts a connection only when it is
            # free, so the kernel's queue feeds whichever worker is idle. (A gthread worker
            # accepts every pending connection at once and queues them itself, even while the
            # other worker sits idle.)
            *(
                ["--worker-class=sync"]
                if threads == 1
                else ["--worker-class=gthread", f"--threads={threads}"]
            ),
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
        ],
        env=env,
        cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        http = urllib3.PoolManager()
        while True:
            try:
                http.request("GET", base_url + "/api/schema/", retries=False, timeout=2)
                break
            except urllib3.exceptions.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=20)


@dataclass
class LoadResult:
    name: str
    count: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    # (p50, p99) in ms when measured by an external client instead of per-request samples.
    fixed_percentiles: tuple[float, float] | None = None

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if self.fixed_percentiles is not None:
            return self.fixed_percentiles[0 if fraction <= 0.5 else 1]
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[index]

    def line(self) -> str:
        return (
            f"{self.name}: {self.count} requests, {self.errors} errors, "
            f"{self.per_second:.1f}/s, p50 {self.percentile(0.5):.1f} ms, "
            f"p99 {self.percentile(0.99):.1f} ms"
        )


def post_json_load(
    name: str,
    url: str,
    bodies: list[dict],
    *,
    headers: dict[str, str],
    concurrency: int,
    expected: Callable[[int], bool] = lambda status: status in (200, 201),
) -> LoadResult:
    """POSTs every body once, ``concurrency`` at a time over pooled keep-alive connections."""
    http = urllib3.PoolManager(maxsize=concurrency, block=True)
    all_headers = {"Content-Type": "application/json", **headers}
    latencies: list[float] = []
    errors = 0

    def send(body: dict) -> tuple[float, bool]:
        started = time.perf_counter()
        response = http.request("POST", url, body=json.dumps(body).encode(), headers=all_headers)
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, expected(response.status)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for elapsed, ok in pool.map(send, bodies):
            latencies.append(elapsed)
            errors += 0 if ok else 1
    seconds = time.perf_counter() - started
    return LoadResult(name, len(bodies), errors, seconds, latencies)
