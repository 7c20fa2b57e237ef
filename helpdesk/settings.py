"""Settings, read from the environment (see DESIGN.md "Operator settings").

No variables set gives the embedded default: SQLite in the project folder, Celery tasks run
in-process, an in-memory channel layer and local-memory cache, development keys generated once
into ``.dev-secrets.json``. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or default


def _development_secrets() -> dict[str, str]:
    """Keys for the embedded default, generated once so sessions and ciphertexts survive restarts."""
    path = BASE_DIR / ".dev-secrets.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        generated = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
        try:
            path.write_text(json.dumps(generated))
            path.chmod(0o600)
        except OSError:
            pass
        return generated


DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not DATABASE_URL and not REDIS_URL

DEBUG = _env_bool("DEBUG", default=not DATABASE_URL)

_dev = (
    _development_secrets()
    if not (os.environ.get("SECRET_KEY") and os.environ.get("FIELD_ENCRYPTION_KEYS"))
    else {}
)
SECRET_KEY = os.environ.get("SECRET_KEY") or _dev["SECRET_KEY"]
# Credentials are encrypted with these keys, never with SECRET_KEY: rotating one must not
# break the other. The first key encrypts; all of them decrypt (MultiFernet).
FIELD_ENCRYPTION_KEYS = _env_list("FIELD_ENCRYPTION_KEYS", [_dev.get("FIELD_ENCRYPTION_KEY", "")])

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = _env_list(
    "CSRF_TRUSTED_ORIGINS", ["http://localhost:8000", "http://127.0.0.1:8000"]
)
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
WEBHOOK_ALLOW_PRIVATE_TARGETS = _env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=EMBEDDED)

INSTALLED_APPS = [
    # First, so that runserver (``make run``) is daphne's ASGI server: the inbox's websocket
    # works in development as it does under uvicorn in production.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "channels_app",
    "tickets",
    "routing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "routing.middleware.PresenceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Concurrent web + in-process tasks on SQLite: wait for the write lock, don't fail.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# The one hand-written stylesheet and the pages' small scripts live beside the project templates.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# WhiteNoise expects the folder even before ``collectstatic`` has filled it.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
# Static files come from the apps' folders until ``collectstatic`` has run (containers run it).
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads: the files API streams to disk above 2.5 MB; the size limit is ours (413), not Django's.
FILE_UPLOAD_MAX_BYTES = int(os.environ.get("FILE_UPLOAD_MAX_BYTES", str(25 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = FILE_UPLOAD_MAX_BYTES + 1024 * 1024
FILE_URL_MAX_AGE_SECONDS = int(os.environ.get("FILE_URL_MAX_AGE_SECONDS", str(24 * 3600)))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["helpdesk.authentication.AppTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["helpdesk.permissions.HasAppScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "helpdesk.api_errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"app": os.environ.get("API_RATE_LIMIT", "6000/minute")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Help desk custom-channel API",
    "DESCRIPTION": "HubSpot-compatible custom channels API (conversations v3). See API.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The dated aliases serve the same operations; document each operation once.
    "PREPROCESSING_HOOKS": ["helpdesk.openapi.exclude_dated_aliases"],
    # The docs page loads Swagger UI from our own static files: no request leaves the machine.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ConnectionFieldTypeEnum": "channels_app.capabilities.CONNECTION_FIELD_TYPES",
        "DeliveryIdentifierTypeEnum": "channels_app.capabilities.DELIVERY_IDENTIFIER_TYPES",
        "AttachmentTypeEnum": "tickets.models.Attachment.Type",
    },
}

# Apps are installed with OAuth 2.0 as HubSpot apps are (API.md "Installing an app"), on
# django-oauth-toolkit: authorization code with registered redirect URIs, access tokens for 30
# minutes, refresh tokens rotated on every use (the old one stops working at once; replaying it
# revokes the whole chain). Tokens are kept as SHA-256 checksums only (RFC 9700 storage), client
# secrets as password hashes. HubSpot's flow has no PKCE (confidential clients with a secret);
# a client that sends a code_challenge still gets it verified.
OAUTH2_PROVIDER = {
    "SCOPES": {
        "conversations.custom_channels.read": (
            "Read its custom channels, their connected accounts and messages"
        ),
        "conversations.custom_channels.write": (
            "Create and change its custom channels and connected accounts, and post messages"
        ),
        "conversations.read": "Read the help desk's inboxes",
    },
    "ACCESS_TOKEN_EXPIRE_SECONDS": 1800,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    # Our API reads bearer tokens from the Authorization header only.
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "PKCE_REQUIRED": False,
    "REQUEST_APPROVAL_PROMPT": "force",
}
# The library's own models; named because App links to the application (swappable setting).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"

# Celery: Redis when configured; otherwise tasks run in-process at the caller (after commit).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10
# Small enough that a message lost with its worker comes back soon; larger than any task runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ROUTES = {"channels_app.deliveries_send": {"queue": "webhooks"}}

# Webhook delivery (API.md "Webhooks to the app"). The database schedules retries; Celery only
# wakes workers, and the sweeper below dispatches what is due and reclaims expired leases.
WEBHOOK_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_CONNECT_TIMEOUT_SECONDS", "5"))
WEBHOOK_TOTAL_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TOTAL_TIMEOUT_SECONDS", "15"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "10"))
# Upper bounds of the wait before attempt 2, 3, …; each wait is drawn uniformly below its bound
# (full jitter), so the ten attempts spread over about 24 hours on average.
WEBHOOK_RETRY_CAPS_SECONDS = [30, 120, 480, 1800, 3600, 7200, 14400, 43200, 86400]
# Tests run real workers with delays scaled down; production leaves this at 1.
WEBHOOK_RETRY_DELAY_SCALE = float(os.environ.get("WEBHOOK_RETRY_DELAY_SCALE", "1"))
WEBHOOK_RETRY_AFTER_MAX_SECONDS = int(os.environ.get("WEBHOOK_RETRY_AFTER_MAX_SECONDS", "3600"))
# A claimed delivery not finished by then is reclaimed (its worker died): > the HTTP timeouts.
WEBHOOK_LEASE_SECONDS = float(os.environ.get("WEBHOOK_LEASE_SECONDS", "60"))
WEBHOOK_SWEEP_INTERVAL_SECONDS = float(os.environ.get("WEBHOOK_SWEEP_INTERVAL_SECONDS", "5"))
# Retries due within this many seconds are sent with a Celery countdown; later ones wait for
# the sweeper (long countdowns and Redis visibility timeouts do not mix).
WEBHOOK_COUNTDOWN_MAX_SECONDS = 60
# A worker sends a channel's due deliveries in batches, this many requests at once per process.
WEBHOOK_BATCH_SIZE = int(os.environ.get("WEBHOOK_BATCH_SIZE", "50"))
WEBHOOK_CHANNEL_CONCURRENCY = int(os.environ.get("WEBHOOK_CHANNEL_CONCURRENCY", "8"))
PORTAL_ID = int(os.environ.get("PORTAL_ID", "1"))
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-deliveries": {
        "task": "channels_app.deliveries_dispatch_due",
        "schedule": WEBHOOK_SWEEP_INTERVAL_SECONDS,
    },
    "notification-emails-due": {
        "task": "routing.notification_emails_send_due",
        "schedule": 15.0,
    },
    "live-events-prune": {"task": "tickets.live_events_prune", "schedule": 3600.0},
}
# The inbox's live events are kept this long for pages that reconnect (tickets.live).
LIVE_EVENT_RETENTION_SECONDS = float(os.environ.get("LIVE_EVENT_RETENTION_SECONDS", "86400"))
# Offline reps' notification emails: one per ticket for everything pending this long.
ROUTING_NOTIFICATION_EMAIL_BATCH_SECONDS = float(
    os.environ.get("ROUTING_NOTIFICATION_EMAIL_BATCH_SECONDS", "30")
)

EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL:
    # smtp://user:password@host:587?tls=1 (or ?ssl=1); the console backend otherwise.
    _email = urlsplit(EMAIL_URL)
    _email_options = parse_qs(_email.query)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 25
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_TLS = _email_options.get("tls", ["0"])[0] in {"1", "true"}
    EMAIL_USE_SSL = _email_options.get("ssl", ["0"])[0] in {"1", "true"}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "helpdesk@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "helpdesk.logging.RedactSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # daphne's runserver (make run) logs each request here; once is enough.
        "django.channels.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Both log request details (codes, tokens, client ids) at DEBUG: never below WARNING.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
        # In-process tasks (the embedded default) would log every run of the scheduler's
        # periodic ones, each second; failures are still logged.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}
