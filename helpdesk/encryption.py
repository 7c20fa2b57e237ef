"""Encryption at rest for credentials and secrets (SPEC C6).

MultiFernet over ``settings.FIELD_ENCRYPTION_KEYS``: the first key encrypts, every key decrypts,
so operators rotate by prepending a new key and running ``manage.py reencrypt_secrets``.
The keys are independent of ``SECRET_KEY``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.query_utils import DeferredAttribute


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys or not all(keys):
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must name at least one Fernet key.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS holds an invalid key: {error}"
        ) from error


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_text(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt_text(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS "
            "(was a key removed before re-encrypting?)."
        ) from error


def reencrypt_text(ciphertext: str) -> str:
    """Returns the ciphertext under the first key (``MultiFernet.rotate``)."""
    return fernet().rotate(ciphertext.encode()).decode()


class Ciphertext(str):
    """A stored value not decrypted yet: loading a row costs nothing until the secret is read."""


class _DecryptOnAccess(DeferredAttribute):
    """Decrypts the field's value the first time it is read from an instance."""

    field: EncryptedTextField | EncryptedJSONField

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        value = super().__get__(instance, cls)
        if instance is not None and isinstance(value, Ciphertext):
            value = self.field.decrypt_stored(value)
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        # A data descriptor, so reads always pass through ``__get__`` (a plain one would be
        # bypassed by the instance's ``__dict__``).
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """A text column stored as a Fernet token; Python code only ever sees the plaintext."""

    descriptor_class = _DecryptOnAccess

    def decrypt_stored(self, value: str) -> str:
        return decrypt_text(value)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return Ciphertext(value)

    def get_prep_value(self, value: Any) -> str | None:
        if isinstance(value, Ciphertext):
            return str(value)  # never read, so unchanged: store the same token
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(str(value))


class EncryptedJSONField(models.TextField):
    """A JSON object stored encrypted; used for channel-account credentials."""

    descriptor_class = _DecryptOnAccess

    def decrypt_stored(self, value: str) -> Any:
        return json.loads(decrypt_text(value))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        return Ciphertext(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, Ciphertext):
            return self.decrypt_stored(value)
        if isinstance(value, str):
            return json.loads(value) if value else {}
        return value

    def get_prep_value(self, value: Any) -> str:
        if isinstance(value, Ciphertext):
            return str(value)
        return encrypt_text(json.dumps(value if value is not None else {}, sort_keys=True))

    def value_to_string(self, obj: Any) -> str:
        # Dumps (dumpdata) never carry the plaintext.
        return "<encrypted>"
