"""Routing tests start without the periodic email sender, so offline reps' emails go at once;
``batching`` (test_notifications) schedules it to test the window."""

import pytest


@pytest.fixture(autouse=True)
def _no_periodic_sender(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        name: entry
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] != "routing.notification_emails_send_due"
    }
