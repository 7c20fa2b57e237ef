"""A real browser for page tests: Debian's chromium driven by Playwright for Python.

Playwright's own browser download is not available here, so the tests launch the system
chromium (``/usr/bin/chromium``, installed by ``make test`` / ``.ci/run``; override with
``CHROMIUM_PATH``). Pages are served by pytest-django's ``live_server``; a signed-in page gets
its session cookie from Django's test client rather than typing the password every time (one
test does sign in through the form). Screenshots go to ``test-output/screenshots/``, the test
run's output folder.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
# Without these, chromium tries Google's hosts on start and this machine's closed network
# refuses them many at a time; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM_PATH).exists() or shutil.which(CHROMIUM_PATH)):
        return f"needs chromium at {CHROMIUM_PATH} (make test installs Debian's chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs the playwright package (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls made
    # while one runs unless told the test knows what it is doing.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def sign_in(page: Any, live_server: Any) -> Callable[[Any], Any]:
    """``sign_in(user)`` gives the page a session for ``user``, as the sign-in form would."""

    def give_session(user: Any) -> Any:
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.clear_cookies()
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        return page

    return give_session


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``screenshot(page, "connect-1-pick")`` saves a full-page PNG under test-output/."""

    def take(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^a-z0-9_.-]+", "-", name.lower())
        path = SCREENSHOTS / f"{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
