"""The help desk's settings plus the baseline endpoint (``bench.urls``)."""

from helpdesk.settings import *  # noqa: F403
from helpdesk.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
ROOT_URLCONF = "bench.urls"
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False}
