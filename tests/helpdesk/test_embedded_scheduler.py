"""The embedded default's scheduler runs Celery beat's periodic tasks in the web process."""

from helpdesk.celery import app


def test_every_periodic_task_is_registered_once_tasks_are_discovered(settings):
    app.autodiscover_tasks(force=True)
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
