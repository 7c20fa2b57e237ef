"""The embedded default's scheduler: Celery beat's schedule, run by a thread of the web process.

With no ``REDIS_URL`` there is no broker, so no beat and no worker: tasks run in-process when
they are sent, and this thread runs the periodic ones (the delivery sweeper, which also sends
retries that are due). ``make run`` turns it on with ``HELPDESK_EMBEDDED_SCHEDULER=1``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)
_started = threading.Event()


def _should_start() -> bool:
    if (
        os.environ.get("HELPDESK_EMBEDDED_SCHEDULER") != "1"
        or not settings.CELERY_TASK_ALWAYS_EAGER
    ):
        return False
    if "runserver" not in sys.argv:
        return False
    # With the autoreloader, only the child process (RUN_MAIN) serves requests.
    return os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv


def _run_forever() -> None:
    from helpdesk.celery import app

    # Celery imports the apps' task modules lazily (when a worker starts); no worker here.
    app.autodiscover_tasks(force=True)
    schedule: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
    next_run = dict.fromkeys(schedule, 0.0)
    while True:
        now = time.monotonic()
        for name, entry in schedule.items():
            if now < next_run[name]:
                continue
            next_run[name] = now + float(entry["schedule"])
            try:
                app.tasks[entry["task"]].apply()
            except Exception:
                logger.exception("Embedded scheduler: %s failed", entry["task"])
            finally:
                close_old_connections()
        time.sleep(1.0)


def start_embedded_scheduler() -> None:
    if _started.is_set() or not _should_start():
        return
    _started.set()
    threading.Thread(target=_run_forever, name="embedded-scheduler", daemon=True).start()
