"""Fixtures shared by the whole suite: API clients authenticated as apps, services present.

Tests that need PostgreSQL or Redis are marked ``postgres`` / ``redis``; they skip with a reason
when the service is not configured, and ``.ci/run`` fails if any of them is skipped there.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from channels_app.models import App
from channels_app.services import token_create
from helpdesk.authentication import ALL_SCOPES
from tests.factories import AppFactory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if "redis" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))


@pytest.fixture(autouse=True)
def _isolated_media(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]


@dataclass
class AppClient:
    """An external app as the tests see it: the app row, its token, and a client using it."""

    app: App
    token: str
    client: APIClient


def make_app_client(app: App | None = None, scopes: tuple[str, ...] = ALL_SCOPES) -> AppClient:
    app = app or AppFactory()
    token, _ = token_create(app=app, name="test", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return AppClient(app=app, token=token, client=client)


@pytest.fixture
def app_client(db: None) -> AppClient:
    return make_app_client()


@pytest.fixture
def other_app_client(db: None) -> AppClient:
    return make_app_client()


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``FAIL_ON_SKIP=1`` (CI's run on real services) any skipped test fails the run."""
    if os.environ.get("FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"FAIL_ON_SKIP: {len(skipped)} test(s) skipped where every service is present.",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _tasks_run_in_process(settings: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks run in-process (after commit) unless a test starts a real worker.

    CI's second run sets REDIS_URL, which would send tasks to a broker nobody consumes; the
    tests that want a real worker use the ``celery_worker`` fixture, which turns this off.
    """
    from helpdesk.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    # A fresh cache namespace per test: ids repeat across tests (rollbacks) and across xdist
    # workers sharing one Redis, and cached state (wake-ups, throttles) must not leak.
    caches = copy.deepcopy(settings.CACHES)  # type: ignore[attr-defined]
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches  # type: ignore[attr-defined]
    settings.CELERY_TASK_ALWAYS_EAGER = True  # type: ignore[attr-defined]
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # type: ignore[attr-defined]
    # Users' passwords and OAuth client secrets are password hashes: PBKDF2 would cost a
    # second per user or token request. Production keeps Django's default hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _default_rows_in_transactional_tests(request: pytest.FixtureRequest) -> None:
    """A transactional test may start from a database an earlier one flushed, without the
    inbox and pipeline the migrations create; put them back as a fresh install has them."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from tests.factories import default_inbox, default_pipeline

    default_inbox()
    default_pipeline()


from tests.asgi_server import asgi_live_server  # noqa: E402, F401  (pages with websockets)
from tests.browser import browser, page, screenshot, sign_in  # noqa: E402, F401  (fixtures for page tests)
