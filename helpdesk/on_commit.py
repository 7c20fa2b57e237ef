"""The one way side effects leave a transaction.

Celery tasks, websocket events and email are registered here with ``transaction.on_commit``, so
nothing is sent for a transaction that rolls back and tests can capture the work explicitly.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction


def after_commit(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Runs ``func(*args, **kwargs)`` once the current transaction commits (now, if none)."""
    transaction.on_commit(partial(func, *args, **kwargs), robust=True)


def enqueue_after_commit(task: Any, /, *args: Any, **kwargs: Any) -> None:
    """Sends a Celery task after commit; with the embedded default it runs in-process then."""
    transaction.on_commit(partial(task.delay, *args, **kwargs), robust=True)
