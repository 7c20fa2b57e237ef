"""The Celery app.

With no ``REDIS_URL`` the settings make tasks run in-process (``task_always_eager``), so the
embedded default needs no broker; with it, Redis is the broker and workers run separately.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
