"""The Django admin: secrets never shown, deliveries redelivered and webhooks re-enabled
through the same services as everything else."""

from __future__ import annotations

import pytest
from django.utils import timezone

from channels_app.models import CustomChannel, Delivery
from channels_app.signing import signing_secret_generate
from tests.factories import ChannelAccountFactory, UserFactory
from tests.receiver import running_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_secrets_and_credentials_are_masked_on_every_admin_page(admin_client):
    account = ChannelAccountFactory(credentials={"apiKey": "sk_live_top_secret"})
    channel = account.channel
    pages = [
        f"/admin/channels_app/app/{channel.app_id}/change/",
        f"/admin/channels_app/customchannel/{channel.pk}/change/",
        f"/admin/channels_app/channelaccount/{account.pk}/change/",
        "/admin/channels_app/channelaccount/",
    ]
    for page in pages:
        html = admin_client.get(page).content.decode()
        assert "sk_live_top_secret" not in html, page
        assert channel.app.client_secret not in html, page
        assert channel.signing_secret not in html, page
    account_page = admin_client.get(pages[2]).content.decode()
    assert "apiKey: ••••••••" in account_page


def test_redeliver_action_sends_a_failed_delivery_again(
    admin_client, django_capture_on_commit_callbacks
):
    with running_receiver() as receiver:
        account = ChannelAccountFactory(channel__signing_secret=signing_secret_generate())
        CustomChannel.objects.filter(pk=account.channel_id).update(webhook_url=receiver.url)
        delivery = Delivery.objects.create(
            event_id="3b0f8a52-1d2e-4c8f-9a6b-5e4d3c2b1a09",
            event_type="CHANNEL_ACCOUNT_UPDATED",
            channel=account.channel,
            payload={"type": "CHANNEL_ACCOUNT_UPDATED"},
            status=Delivery.Status.FAILED,
            attempts=10,
            finished_at=timezone.now(),
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                "/admin/channels_app/delivery/",
                {"action": "redeliver", "_selected_action": [delivery.pk]},
            )
        assert response.status_code == 302
        [request] = receiver.wait_for(1)
    assert request.headers["webhook-id"] == str(delivery.event_id)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED


def test_reenable_webhook_action_clears_the_410_flag(admin_client):
    account = ChannelAccountFactory()
    CustomChannel.objects.filter(pk=account.channel_id).update(webhook_disabled_at=timezone.now())
    admin_client.post(
        "/admin/channels_app/customchannel/",
        {"action": "reenable_webhook", "_selected_action": [account.channel_id]},
    )
    assert CustomChannel.objects.get(pk=account.channel_id).webhook_disabled_at is None
