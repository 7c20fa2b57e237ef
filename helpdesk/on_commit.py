"""The one way side effects leave a transaction.

Celery tasks, websocket events and email are registered here with ``transaction.on_commit``, so
nothing is sent for a transaction that rolls back and tests can capture the work explicitly.
"""

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any

from django.db import transaction


def _named(callback: Callable[[], Any], func: Any) -> Callable[[], Any]:
    # Django logs a failing robust callback by its ``__qualname__``; a bare partial has none.
    return update_wrapper(callback, func, assigned=("__module__", "__name__", "__qualname__"))


def after_commit(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Runs ``func(*args, **kwargs)`` once the current transaction commits (now, if none).

    Robust: a failing callback is logged and does not stop the others.
    """
    transaction.on_commit(_named(partial(func, *args, **kwargs), func), robust=True)


def enqueue_after_commit(task: Any, /, *args: Any, **kwargs: Any) -> None:
    """Sends a Celery task after commit; with the embedded default it runs in-process then."""
    transaction.on_commit(_named(partial(task.delay, *args, **kwargs), task.run), robust=True)
