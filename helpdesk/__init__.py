"""The help desk project: settings, URLs, the Celery app, ASGI, and the API plumbing."""

from helpdesk.celery import app as celery_app

__all__ = ["celery_app"]
