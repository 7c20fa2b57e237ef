"""Validation of what an app declares about its channel, and of what admins type when connecting.

Pure functions over decoded JSON, shared by the REST API (its input serializers), the services
(which re-check, so every caller keeps the invariants) and the settings wizard (which shows the
same messages next to its form fields):

- ``capabilities_clean``: a channel's ``capabilities`` object, normalised with defaults;
- ``connection_fields_clean``: the **(extension)** ``channelAccountConnectionFields`` list;
- ``credentials_clean``: the credentials an admin entered, against those fields;
- ``delivery_identifier_clean`` / ``delivery_identifier_normalise``: ``{type, value}`` pairs;
- ``http_url_problem``: the absolute http(s) URLs a channel declares.

Each ``*_clean`` function collects every problem it finds and raises ``InvalidInputError`` (a 400 in
the API's error shape) listing them with their JSON paths, prefixed by the ``path`` argument.

Normalised capabilities (what the API echoes and what is stored): every boolean is present
(default ``false``), every list is present (default ``[]``), ``threadingModel`` defaults to
``INTEGRATION_THREAD_ID``. The three attachment limits are present only when the app set them: an
absent limit means "no limit of the channel's own", the server's limits still apply; ``0`` would
mean "none allowed", which is a different statement.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from channels_app.models import DeliveryIdentifierType
from helpdesk.api_errors import ApiError

DELIVERY_IDENTIFIER_TYPES = tuple(DeliveryIdentifierType.values)
THREADING_MODELS = ("INTEGRATION_THREAD_ID", "DELIVERY_IDENTIFIER")
DEFAULT_THREADING_MODEL = "INTEGRATION_THREAD_ID"
RICH_TEXT_FEATURES = ("HYPERLINK", "TEXT_ALIGNMENT", "BLOCKQUOTE", "BOLD", "ITALIC", "LISTS")
OUTGOING_ATTACHMENT_TYPES = ("FILE",)
BOOLEAN_CAPABILITIES = (
    "allowInlineImages",
    "allowOutgoingMessages",
    "allowConversationStart",
    "allowMultipleRecipients",
)
LIMIT_CAPABILITIES = (
    "maxFileAttachmentCount",
    "maxFileAttachmentSizeBytes",
    "maxTotalFileAttachmentSizeBytes",
)
CAPABILITY_KEYS = frozenset(
    {
        "deliveryIdentifierTypes",
        "threadingModel",
        "richText",
        "outgoingAttachmentTypes",
        "allowedFileAttachmentMimeTypes",
        *BOOLEAN_CAPABILITIES,
        *LIMIT_CAPABILITIES,
    }
)
# JSON numbers above 2**53 lose precision in JavaScript clients; no real limit is that large.
MAX_LIMIT_VALUE = 2**53 - 1
MAX_MIME_TYPES = 200
# RFC 6838 restricted-name characters; a wildcard subtype (``image/*``) is allowed.
MIME_TYPE_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/(\*|[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})$"
)

CONNECTION_FIELD_TYPES = ("string", "secret", "url", "email", "phone", "select")
CONNECTION_FIELD_KEYS = frozenset({"name", "label", "type", "required", "helpText", "options"})
CONNECTION_FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_CONNECTION_FIELDS = 50
MAX_SELECT_OPTIONS = 200
MAX_LABEL_LENGTH = 200
MAX_HELP_TEXT_LENGTH = 1000
MAX_CREDENTIAL_LENGTH = 4000
MAX_OPAQUE_ID_LENGTH = 320
MAX_URL_LENGTH = 2000


class InvalidInputError(ApiError):
    """A 400 listing every problem found, each ``{message, in, code}`` with its JSON path."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"Invalid input at {first['in']}: {first['message']}{more}", errors=errors)


class Problems:
    """Collects ``{message, in, code}`` entries under a path prefix, then raises them at once."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, path: str, message: str, code: str = "INVALID_FORMAT") -> None:
        self.errors.append({"message": message, "in": path or "body", "code": code})

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInputError(self.errors)


def child_path(path: str, key: str | int) -> str:
    """``capabilities`` + ``threadingModel`` → ``capabilities.threadingModel``; ints index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def text_problem(value: str) -> str | None:
    """Characters a database cannot store (PostgreSQL refuses NUL; lone surrogates cannot be
    encoded as UTF-8): refused up front so they give a 400, never a 5xx."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if any("\ud800" <= char <= "\udfff" for char in value):
        return "must not contain unpaired surrogate characters"
    return None


def http_url_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute http(s) URL with a host, or None. No DNS lookup here:
    the webhook client checks the resolved address at send time."""
    if len(value) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if text_problem(value) or any(char.isspace() for char in value):
        return "must be an absolute http(s) URL"
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port out of range or not numeric
    except ValueError:
        return "must be an absolute http(s) URL"
    del port
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL"
    return None


def _is_strict_int(value: Any) -> bool:
    # ``bool`` is a subclass of ``int`` in Python; JSON ``true`` is not a count.
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_enum_list(
    problems: Problems, value: Any, path: str, allowed: Iterable[str]
) -> list[str] | None:
    allowed = tuple(allowed)
    if not isinstance(value, list):
        problems.add(path, "must be a list of strings", "INVALID_FORMAT")
        return None
    cleaned: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.add(
                child_path(path, index),
                f"must be a string, one of {', '.join(allowed)}",
                "INVALID_FORMAT",
            )
        elif item not in allowed:
            problems.add(
                child_path(path, index), f"must be one of {', '.join(allowed)}", "INVALID_ENUM"
            )
        elif item not in cleaned:
            cleaned.append(item)
    return cleaned


def capabilities_clean(value: Any, *, path: str = "capabilities") -> dict[str, Any]:
    """Validates a ``capabilities`` object; returns it normalised (see the module docstring).

    Unknown keys are refused (API.md: HubSpot refuses them too), so a typo in a limit never
    silently disables it. Duplicates in enum lists are dropped.
    """
    problems = Problems()
    if not isinstance(value, dict):
        problems.add(path, "must be an object", "INVALID_FORMAT")
        problems.raise_if_any()
    for key in value:
        if key not in CAPABILITY_KEYS:
            problems.add(child_path(path, str(key)), "is not a known capability", "UNKNOWN_FIELD")

    cleaned: dict[str, Any] = {}
    for key, allowed in (
        ("deliveryIdentifierTypes", DELIVERY_IDENTIFIER_TYPES),
        ("richText", RICH_TEXT_FEATURES),
        ("outgoingAttachmentTypes", OUTGOING_ATTACHMENT_TYPES),
    ):
        raw = value.get(key)
        if raw is None:
            cleaned[key] = []
        else:
            cleaned[key] = _clean_enum_list(problems, raw, child_path(path, key), allowed)

    threading = value.get("threadingModel")
    if threading is None:
        cleaned["threadingModel"] = DEFAULT_THREADING_MODEL
    elif not isinstance(threading, str) or threading not in THREADING_MODELS:
        problems.add(
            child_path(path, "threadingModel"),
            f"must be one of {', '.join(THREADING_MODELS)}",
            "INVALID_ENUM",
        )
    else:
        cleaned["threadingModel"] = threading

    for key in BOOLEAN_CAPABILITIES:
        raw = value.get(key)
        if raw is None:
            cleaned[key] = False
        elif not isinstance(raw, bool):
            problems.add(child_path(path, key), "must be true or false", "INVALID_FORMAT")
        else:
            cleaned[key] = raw

    mime_types = value.get("allowedFileAttachmentMimeTypes")
    cleaned["allowedFileAttachmentMimeTypes"] = []
    mime_path = child_path(path, "allowedFileAttachmentMimeTypes")
    if mime_types is not None:
        if not isinstance(mime_types, list):
            problems.add(mime_path, "must be a list of MIME types", "INVALID_FORMAT")
        elif len(mime_types) > MAX_MIME_TYPES:
            problems.add(mime_path, f"must hold at most {MAX_MIME_TYPES} types", "TOO_LONG")
        else:
            for index, item in enumerate(mime_types):
                if not isinstance(item, str) or not MIME_TYPE_RE.match(item):
                    problems.add(
                        child_path(mime_path, index),
                        "must be a MIME type such as image/png",
                        "INVALID_FORMAT",
                    )
                elif item.lower() not in cleaned["allowedFileAttachmentMimeTypes"]:
                    cleaned["allowedFileAttachmentMimeTypes"].append(item.lower())

    for key in LIMIT_CAPABILITIES:
        raw = value.get(key)
        if raw is None:
            continue
        if not _is_strict_int(raw):
            problems.add(child_path(path, key), "must be an integer", "INVALID_FORMAT")
        elif raw < 0:
            problems.add(child_path(path, key), "must not be negative", "TOO_SMALL")
        elif raw > MAX_LIMIT_VALUE:
            problems.add(child_path(path, key), f"must be at most {MAX_LIMIT_VALUE}", "TOO_LARGE")
        else:
            cleaned[key] = raw

    problems.raise_if_any()
    return cleaned


def capabilities_with_defaults(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The normalised form of stored capabilities, for output (rows written before
    normalisation, or by fixtures, still read with every default present)."""
    stored = stored if isinstance(stored, dict) else {}
    result: dict[str, Any] = {
        "deliveryIdentifierTypes": list(stored.get("deliveryIdentifierTypes") or []),
        "threadingModel": stored.get("threadingModel") or DEFAULT_THREADING_MODEL,
        "richText": list(stored.get("richText") or []),
        "outgoingAttachmentTypes": list(stored.get("outgoingAttachmentTypes") or []),
        "allowedFileAttachmentMimeTypes": list(stored.get("allowedFileAttachmentMimeTypes") or []),
    }
    for key in BOOLEAN_CAPABILITIES:
        result[key] = bool(stored.get(key, False))
    for key in LIMIT_CAPABILITIES:
        if stored.get(key) is not None:
            result[key] = stored[key]
    return result


def _clean_short_text(
    problems: Problems, value: Any, path: str, *, max_length: int, required: bool
) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            problems.add(path, "is required", "REQUIRED")
        return ""
    if not isinstance(value, str):
        problems.add(path, "must be a string", "INVALID_FORMAT")
        return None
    text = value.strip()
    if required and not text:
        problems.add(path, "must not be blank", "REQUIRED")
        return None
    if len(text) > max_length:
        problems.add(path, f"must be at most {max_length} characters", "TOO_LONG")
        return None
    problem = text_problem(text)
    if problem:
        problems.add(path, problem, "INVALID_FORMAT")
        return None
    return text


def connection_fields_clean(
    value: Any, *, path: str = "channelAccountConnectionFields"
) -> list[dict[str, Any]]:
    """Validates the credential fields an admin fills in when connecting an account.

    Each field is ``{name, label, type, required, helpText, options}``: ``name`` unique and
    identifier-like (it keys the stored credentials), ``type`` one of
    ``CONNECTION_FIELD_TYPES``, ``options`` (non-empty, unique strings) only and always for
    ``select``. Returns the fields with defaults filled (``label`` = name, ``required`` false,
    ``helpText`` ""; ``options`` only on select fields).
    """
    problems = Problems()
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, "must be a list of field objects", "INVALID_FORMAT")
        problems.raise_if_any()
    if len(value) > MAX_CONNECTION_FIELDS:
        problems.add(path, f"must hold at most {MAX_CONNECTION_FIELDS} fields", "TOO_LONG")
        problems.raise_if_any()

    cleaned: list[dict[str, Any]] = []
    seen_names: set[str] = set()
    for index, item in enumerate(value):
        item_path = child_path(path, index)
        if not isinstance(item, dict):
            problems.add(item_path, "must be an object", "INVALID_FORMAT")
            continue
        for key in item:
            if key not in CONNECTION_FIELD_KEYS:
                problems.add(child_path(item_path, str(key)), "is not a known key", "UNKNOWN_FIELD")

        name = item.get("name")
        name_path = child_path(item_path, "name")
        if name is None:
            problems.add(name_path, "is required", "REQUIRED")
        elif not isinstance(name, str) or not CONNECTION_FIELD_NAME_RE.match(name):
            problems.add(
                name_path,
                "must start with a letter or _ and hold only letters, digits and _ (≤ 64)",
                "INVALID_FORMAT",
            )
        elif name in seen_names:
            problems.add(name_path, "is used by another field", "DUPLICATE")
        else:
            seen_names.add(name)

        label = _clean_short_text(
            problems,
            item.get("label"),
            child_path(item_path, "label"),
            max_length=MAX_LABEL_LENGTH,
            required=False,
        )
        help_text = _clean_short_text(
            problems,
            item.get("helpText"),
            child_path(item_path, "helpText"),
            max_length=MAX_HELP_TEXT_LENGTH,
            required=False,
        )

        field_type = item.get("type")
        type_path = child_path(item_path, "type")
        if field_type is None:
            problems.add(type_path, "is required", "REQUIRED")
        elif not isinstance(field_type, str) or field_type not in CONNECTION_FIELD_TYPES:
            problems.add(
                type_path, f"must be one of {', '.join(CONNECTION_FIELD_TYPES)}", "INVALID_ENUM"
            )

        required = item.get("required", False)
        if required is None:
            required = False
        if not isinstance(required, bool):
            problems.add(child_path(item_path, "required"), "must be true or false")

        options = item.get("options")
        options_path = child_path(item_path, "options")
        cleaned_options: list[str] = []
        if field_type == "select":
            if not isinstance(options, list) or not options:
                problems.add(options_path, "a select field needs a non-empty list of options")
            elif len(options) > MAX_SELECT_OPTIONS:
                problems.add(
                    options_path, f"must hold at most {MAX_SELECT_OPTIONS} options", "TOO_LONG"
                )
            else:
                for option_index, option in enumerate(options):
                    option_path = child_path(options_path, option_index)
                    if not isinstance(option, str) or not option.strip():
                        problems.add(option_path, "must be a non-empty string")
                    elif len(option) > MAX_LABEL_LENGTH or text_problem(option):
                        problems.add(option_path, "must be a short printable string")
                    elif option in cleaned_options:
                        problems.add(option_path, "is listed twice", "DUPLICATE")
                    else:
                        cleaned_options.append(option)
        elif options is not None:
            problems.add(options_path, "only select fields have options")

        if isinstance(name, str) and isinstance(field_type, str):
            field: dict[str, Any] = {
                "name": name,
                "label": label or name,
                "type": field_type,
                "required": required if isinstance(required, bool) else False,
                "helpText": help_text or "",
            }
            if field_type == "select":
                field["options"] = cleaned_options
            cleaned.append(field)

    problems.raise_if_any()
    return cleaned


# A pure function of its argument, and parsing costs more than the rest of validating a
# message: every published message carries its sender's and its account's numbers, which repeat.
@functools.lru_cache(maxsize=4096)
def _phone_e164(value: str) -> str | None:
    """``value`` as E.164, or None. Only plausibility (``is_possible_number``) is checked, not
    allocation: phonenumberslite's metadata lags new ranges, and refusing a real gateway's
    number would be worse than accepting an unassigned one."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _email_normalised(value: str) -> str | None:
    text = value.strip()
    try:
        validate_email(text)
    except DjangoValidationError:
        return None
    # Contacts match emails case-insensitively; one stored form keeps filters exact.
    return text.lower()


def delivery_identifier_normalise(identifier_type: str, value: str) -> str | None:
    """The stored form of an identifier value (email lower-cased, phone E.164, opaque ids as
    given), or None when the value is not valid for its type."""
    if text_problem(value):
        return None
    if identifier_type == DeliveryIdentifierType.EMAIL:
        return _email_normalised(value) if len(value) <= MAX_OPAQUE_ID_LENGTH else None
    if identifier_type == DeliveryIdentifierType.PHONE:
        return _phone_e164(value) if len(value) <= 64 else None
    if identifier_type == DeliveryIdentifierType.OPAQUE:
        if not value.strip() or len(value) > MAX_OPAQUE_ID_LENGTH:
            return None
        return value
    return None


_VALUE_RULES = {
    DeliveryIdentifierType.EMAIL: "must be an email address",
    DeliveryIdentifierType.PHONE: "must be a phone number in E.164 form (+14155552671)",
    DeliveryIdentifierType.OPAQUE: f"must be a non-empty string of at most "
    f"{MAX_OPAQUE_ID_LENGTH} characters",
}


def delivery_identifier_clean(
    value: Any, *, allowed_types: Iterable[str] = (), path: str = "deliveryIdentifier"
) -> tuple[str, str] | None:
    """Validates ``{type, value}``; returns ``(type, normalised value)``, or None for ``null``.

    ``allowed_types`` is the channel's ``deliveryIdentifierTypes``: when non-empty, the type
    must be one of them.
    """
    if value is None:
        return None
    problems = Problems()
    if not isinstance(value, dict):
        problems.add(path, "must be an object {type, value}")
        problems.raise_if_any()
    identifier_type = value.get("type")
    raw_value = value.get("value")
    type_path = child_path(path, "type")
    value_path = child_path(path, "value")
    allowed = tuple(allowed_types)
    if identifier_type is None:
        problems.add(type_path, "is required", "REQUIRED")
    elif not isinstance(identifier_type, str) or identifier_type not in DELIVERY_IDENTIFIER_TYPES:
        problems.add(
            type_path, f"must be one of {', '.join(DELIVERY_IDENTIFIER_TYPES)}", "INVALID_ENUM"
        )
    elif allowed and identifier_type not in allowed:
        problems.add(
            type_path,
            f"the channel's deliveryIdentifierTypes allow only {', '.join(allowed)}",
            "INVALID_ENUM",
        )
    if raw_value is None:
        problems.add(value_path, "is required", "REQUIRED")
    elif not isinstance(raw_value, str):
        problems.add(value_path, "must be a string")
    problems.raise_if_any()

    # Both are strings here: any other case was raised above.
    identifier_type, raw_value = str(identifier_type), str(raw_value)
    normalised = delivery_identifier_normalise(identifier_type, raw_value)
    if normalised is None:
        problems.add(value_path, _VALUE_RULES[DeliveryIdentifierType(identifier_type)])
        problems.raise_if_any()
    return identifier_type, str(normalised)


def credentials_clean(
    *, connection_fields: list[dict[str, Any]], credentials: Any, path: str = "credentials"
) -> dict[str, str]:
    """Validates credentials an admin entered against the channel's connection fields.

    Unknown keys are refused; required fields must be present and non-blank; an optional field
    left blank is dropped. ``email``/``url``/``phone`` values must have that form (phones are
    stored as E.164), ``select`` values must be one of the options. Values are strings.
    """
    problems = Problems()
    if not isinstance(credentials, dict):
        problems.add(path, "must be an object")
        problems.raise_if_any()
    fields = {field["name"]: field for field in connection_fields}
    for key in credentials:
        if key not in fields:
            problems.add(
                child_path(path, str(key)), "is not a field of this channel", "UNKNOWN_FIELD"
            )

    cleaned: dict[str, str] = {}
    for name, field in fields.items():
        field_path = child_path(path, name)
        raw = credentials.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if field.get("required"):
                problems.add(field_path, "is required", "REQUIRED")
            continue
        if not isinstance(raw, str):
            problems.add(field_path, "must be a string")
            continue
        # Secrets are kept exactly as typed (a trailing space may be part of a key); other
        # types are trimmed.
        value = raw if field["type"] == "secret" else raw.strip()
        if len(value) > MAX_CREDENTIAL_LENGTH:
            problems.add(
                field_path, f"must be at most {MAX_CREDENTIAL_LENGTH} characters", "TOO_LONG"
            )
            continue
        problem = text_problem(value)
        if problem:
            problems.add(field_path, problem)
            continue
        field_type = field["type"]
        if field_type == "email":
            email = _email_normalised(value)
            if email is None:
                problems.add(field_path, "must be an email address")
                continue
            value = email
        elif field_type == "url":
            url_problem = http_url_problem(value)
            if url_problem:
                problems.add(field_path, url_problem)
                continue
        elif field_type == "phone":
            phone = _phone_e164(value)
            if phone is None:
                problems.add(field_path, _VALUE_RULES[DeliveryIdentifierType.PHONE])
                continue
            value = phone
        elif field_type == "select" and value not in field.get("options", []):
            problems.add(
                field_path, f"must be one of {', '.join(field.get('options', []))}", "INVALID_ENUM"
            )
            continue
        cleaned[name] = value
    problems.raise_if_any()
    return cleaned
