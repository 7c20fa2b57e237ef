"""factory_boy factories shared by every test module."""

from __future__ import annotations

import secrets
from typing import Any

import factory
from django.contrib.auth import get_user_model

from channels_app.models import App, ChannelAccount, CustomChannel
from helpdesk.authentication import token_digest
from tickets.models import Contact, Inbox, Pipeline

DEFAULT_CAPABILITIES: dict[str, Any] = {
    "deliveryIdentifierTypes": ["HS_PHONE_NUMBER", "CHANNEL_SPECIFIC_OPAQUE_ID"],
    "threadingModel": "INTEGRATION_THREAD_ID",
    "allowOutgoingMessages": True,
    "allowInlineImages": False,
    "outgoingAttachmentTypes": ["FILE"],
    "allowedFileAttachmentMimeTypes": ["image/png", "image/jpeg", "application/pdf"],
    "maxFileAttachmentCount": 2,
    "maxFileAttachmentSizeBytes": 1_500_000,
    "maxTotalFileAttachmentSizeBytes": 2_000_000,
}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"rep{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    # Hashed before saving, so a session made with force_login stays valid.
    password = factory.django.Password("password")


class AppFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = App

    name = factory.Sequence(lambda n: f"App {n}")
    client_id = factory.LazyFunction(lambda: secrets.token_hex(16))
    client_secret = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    developer_api_key_hash = factory.LazyFunction(lambda: token_digest(secrets.token_urlsafe(32)))


class CustomChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomChannel

    app = factory.SubFactory(AppFactory)
    name = factory.Sequence(lambda n: f"Channel {n}")
    webhook_url = "https://example.com/webhook"
    capabilities = factory.LazyFunction(lambda: dict(DEFAULT_CAPABILITIES))
    signing_secret = factory.LazyFunction(lambda: "whsec_" + secrets.token_urlsafe(32))


def default_inbox() -> Inbox:
    return Inbox.objects.order_by("id").first() or Inbox.objects.create(name="Help Desk")


class ChannelAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelAccount

    channel = factory.SubFactory(CustomChannelFactory)
    inbox = factory.LazyFunction(default_inbox)
    name = factory.Sequence(lambda n: f"Account {n}")
    delivery_identifier_type = "HS_PHONE_NUMBER"
    delivery_identifier_value = factory.Sequence(lambda n: f"+1555000{n:04d}")
    authorized = True


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    name = factory.Sequence(lambda n: f"Customer {n}")


def default_pipeline() -> Pipeline:
    """The migration's default pipeline; recreated when a transactional test flushed it."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        pipeline = Pipeline.objects.create(name="Support Pipeline", is_default=True)
        for order, (name, state) in enumerate(
            [
                ("New", "OPEN"),
                ("Waiting on contact", "OPEN"),
                ("Waiting on us", "OPEN"),
                ("Closed", "CLOSED"),
            ]
        ):
            pipeline.statuses.create(name=name, state=state, display_order=order)
    return pipeline
