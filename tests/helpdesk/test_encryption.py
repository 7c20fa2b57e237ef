"""Credentials and secrets are encrypted at rest with FIELD_ENCRYPTION_KEYS (SPEC C6)."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from channels_app.models import App, ChannelAccount
from tests.factories import AppFactory, ChannelAccountFactory


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_credentials_are_stored_encrypted_and_read_back_in_plain() -> None:
    account = ChannelAccountFactory(credentials={"apiKey": "sk_live_very_secret"})
    raw = _raw("channels_app_channelaccount", "credentials", account.pk)
    assert "sk_live_very_secret" not in raw
    assert raw.startswith("gAAAA")  # a Fernet token
    assert ChannelAccount.objects.get(pk=account.pk).credentials == {
        "apiKey": "sk_live_very_secret"
    }


@pytest.mark.django_db
def test_client_secret_is_encrypted_independently_of_secret_key(settings) -> None:
    app = AppFactory(client_secret="the-client-secret")
    assert "the-client-secret" not in _raw("channels_app_app", "client_secret", app.pk)
    settings.SECRET_KEY = "a-completely-different-secret-key"
    assert App.objects.get(pk=app.pk).client_secret == "the-client-secret"


@pytest.mark.django_db
def test_reencrypt_command_moves_every_secret_to_the_new_first_key(settings) -> None:
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    account = ChannelAccountFactory(credentials={"token": "t-123"})
    app = account.channel.app

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("reencrypt_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert ChannelAccount.objects.get(pk=account.pk).credentials == {"token": "t-123"}
    assert App.objects.get(pk=app.pk).client_secret == app.client_secret


@pytest.mark.django_db
def test_a_removed_key_gives_a_clear_configuration_error(settings) -> None:
    account = ChannelAccountFactory(credentials={"token": "t-1"})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    # Loading the row decrypts nothing (hot paths never pay for secrets they do not read)…
    loaded = ChannelAccount.objects.get(pk=account.pk)
    assert loaded.name == account.name
    # …reading the secret does, and fails clearly.
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        _ = loaded.credentials


def test_an_invalid_key_is_refused(settings) -> None:
    from helpdesk.encryption import encrypt_text

    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="invalid key"):
        encrypt_text("x")
