"""Account events reach the app through the outbox: connect, change, deactivate, delete; and
webhook URLs to private addresses are refused up front when the guard is on."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from channels_app.accounts import channel_account_delete
from channels_app.models import ChannelAccount, CustomChannel
from channels_app.signing import signing_secret_generate
from tests.factories import CustomChannelFactory
from tests.receiver import running_receiver

pytestmark = pytest.mark.django_db
BASE = "/conversations/v3/custom-channels"


def test_connect_change_deactivate_and_delete_each_tell_the_app(
    app_client, django_capture_on_commit_callbacks
):
    secret = signing_secret_generate()
    with running_receiver() as receiver:
        channel = CustomChannelFactory(
            app=app_client.app, webhook_url=receiver.url, signing_secret=secret
        )
        client = app_client.client
        accounts = f"{BASE}/{channel.pk}/channel-accounts"
        with django_capture_on_commit_callbacks(execute=True):
            created = client.post(
                accounts,
                {
                    "name": "Support line",
                    "authorized": True,
                    "deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+15550104242"},
                },
                format="json",
            ).json()
        with django_capture_on_commit_callbacks(execute=True):
            client.patch(f"{accounts}/{created['id']}", {"name": "Sales line"}, format="json")
        with django_capture_on_commit_callbacks(execute=True):
            client.patch(f"{accounts}/{created['id']}", {"authorized": False}, format="json")
        with django_capture_on_commit_callbacks(execute=True):
            channel_account_delete(account=ChannelAccount.objects.get(pk=created["id"]))
        requests = receiver.wait_for(4)

    events = [Webhook(secret).verify(r.body, r.headers) for r in requests]
    assert [(e["type"], e["authorized"], e["active"]) for e in events] == [
        ("CHANNEL_ACCOUNT_CREATED", True, True),
        ("CHANNEL_ACCOUNT_UPDATED", True, True),
        ("CHANNEL_ACCOUNT_UPDATED", False, False),
        ("CHANNEL_ACCOUNT_PURGED", False, False),
    ]
    for event in events:
        assert event["channelId"] == str(channel.pk)
        assert event["channelAccountId"] == created["id"]
        assert event["channelAccountDeliveryIdentifier"] == {
            "type": "HS_PHONE_NUMBER",
            "value": "+15550104242",
        }
    assert len({e["eventId"] for e in events}) == 4


def test_an_unchanged_patch_sends_nothing(app_client, django_capture_on_commit_callbacks):
    with running_receiver() as receiver:
        channel = CustomChannelFactory(app=app_client.app, webhook_url=receiver.url)
        accounts = f"{BASE}/{channel.pk}/channel-accounts"
        created = app_client.client.post(
            accounts, {"name": "Line", "authorized": True}, format="json"
        ).json()
        with django_capture_on_commit_callbacks(execute=True):
            app_client.client.patch(
                f"{accounts}/{created['id']}", {"name": "Line", "authorized": True}, format="json"
            )
        assert receiver.wait_for(1, timeout=0.5) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_private_webhook_urls_are_refused_when_the_guard_is_on(app_client, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = app_client.client.post(
        BASE,
        {
            "name": "Acme",
            "webhookUrl": url,
            "capabilities": {"threadingModel": "DELIVERY_IDENTIFIER"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["in"] == "webhookUrl"
    assert not CustomChannel.objects.filter(app=app_client.app).exists()
