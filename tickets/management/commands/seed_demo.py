"""``manage.py seed_demo``: demo data for the embedded default (``make run``).

Creates, once: an admin and two reps, a team, a demo app with a demo channel and a connected
account routed to the team, and two demo conversations. Every run prints how to sign in and a
fresh API token of the demo app (the token ``make run`` printed before is revoked: tokens are
stored hashed, so an old one cannot be shown again).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from channels_app.accounts import RoutingOptions, channel_account_connect
from channels_app.models import App, AppToken, ChannelAccount, CustomChannel
from channels_app.services import app_create, channel_create, token_create, token_revoke
from routing.models import RepProfile, RoutingRule, Team
from tickets.publish import message_publish_inbound

DEMO_APP = "Demo messaging app"
DEMO_TOKEN_NAME = "Demo token (make run)"  # noqa: S105 - a label
DEMO_PASSWORD = "helpdesk-demo"  # noqa: S105 - the embedded demo's documented password
DEMO_USERS = [
    ("admin", "Alex", "Admin", RepProfile.Role.ADMIN),
    ("rep1", "Riley", "Rep", RepProfile.Role.REP),
    ("rep2", "Sam", "Rep", RepProfile.Role.REP),
]
DEMO_CAPABILITIES = {
    "deliveryIdentifierTypes": ["HS_PHONE_NUMBER", "CHANNEL_SPECIFIC_OPAQUE_ID"],
    "threadingModel": "DELIVERY_IDENTIFIER",
    "richText": ["HYPERLINK", "BOLD", "ITALIC"],
    "allowOutgoingMessages": True,
    "outgoingAttachmentTypes": ["FILE"],
    "allowedFileAttachmentMimeTypes": ["image/png", "image/jpeg", "application/pdf"],
    "maxFileAttachmentCount": 3,
    "maxFileAttachmentSizeBytes": 5_000_000,
    "maxTotalFileAttachmentSizeBytes": 10_000_000,
}


class Command(BaseCommand):
    help = "Create the demo users, team, app, channel and conversations (once); print a token."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            users = self._users()
            team, _ = Team.objects.get_or_create(name="Support")
            team.members.add(*users[1:])
            app = App.objects.filter(name=DEMO_APP).first()
            if app is None:
                app = self._app_channel_and_conversations(users, team)
            for previous in AppToken.objects.filter(app=app, name=DEMO_TOKEN_NAME, revoked_at=None):
                token_revoke(token=previous)
            token, _ = token_create(app=app, name=DEMO_TOKEN_NAME)
        channel = CustomChannel.objects.filter(app=app).order_by("id").first()
        self.stdout.write(
            "\nHelp desk demo ready at http://127.0.0.1:8000\n"
            f"  Sign in: admin / {DEMO_PASSWORD} (admin), rep1 or rep2 / {DEMO_PASSWORD} (reps)\n"
            "  Inbox: http://127.0.0.1:8000/inbox/ · "
            "Channels: http://127.0.0.1:8000/settings/help-desk/channels/\n"
            f"  Demo app {app.name!r} (appId {app.pk}), channel id {channel.pk if channel else '-'}\n"
            f"  API token: {token}\n"
            "  Try: curl -H 'Authorization: Bearer <token>' "
            "http://127.0.0.1:8000/conversations/v3/custom-channels\n"
        )

    def _users(self) -> list[Any]:
        user_model = get_user_model()
        users = []
        for username, first, last, role in DEMO_USERS:
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@helpdesk.localhost",
                    "is_staff": role == RepProfile.Role.ADMIN,
                    "is_superuser": role == RepProfile.Role.ADMIN,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            RepProfile.objects.get_or_create(user=user, defaults={"role": role})
            users.append(user)
        return users

    def _app_channel_and_conversations(self, users: list[Any], team: Team) -> App:
        app = app_create(name=DEMO_APP, description="Plays an external messaging service.").app
        channel = channel_create(
            app=app,
            name="Demo Chat",
            description="A demo chat network: customers write from the demo app's page.",
            capabilities=DEMO_CAPABILITIES,
            connection_fields=[
                {"name": "apiKey", "label": "API key", "type": "secret", "required": True},
            ],
        )
        account = channel_account_connect(
            channel=channel,
            name="Demo support line",
            delivery_identifier={"type": "HS_PHONE_NUMBER", "value": "+15550001000"},
            credentials={"apiKey": "demo-key"},
            routing=RoutingOptions(
                auto_assign=True,
                mode=RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS,
                team_ids=(team.pk,),
            ),
            created_by_id=users[0].pk,
        )
        self._conversations(app, channel, account)
        return app

    def _conversations(self, app: App, channel: CustomChannel, account: ChannelAccount) -> None:
        for phone, name, text in [
            ("+15550101001", "Ada Lovelace", "Hi! My order #1042 has not arrived yet."),
            ("+15550101002", "Alan Turing", "Can I change the delivery address of my order?"),
        ]:
            message_publish_inbound(
                app=app,
                channel=channel,
                account=account,
                direction="INCOMING",
                text=text,
                senders=[
                    {
                        "deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": phone},
                        "name": name,
                    }
                ],
            )
