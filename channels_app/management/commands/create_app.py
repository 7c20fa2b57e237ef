"""``manage.py create_app "Acme SMS" [--json] [--redirect-uri URL ...]``: creates an app and
prints its secrets once.

The app is installed at once and gets a static token (HubSpot's private-app style). With
``--redirect-uri`` (repeatable) it can also be installed with OAuth 2.0; the output then adds
``clientId``, which the app sends to ``/oauth/authorize`` and ``/oauth/v1/token``.
"""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from channels_app.installs import app_redirect_uris_set
from channels_app.services import app_create


class Command(BaseCommand):
    help = "Create an external app; prints its id, client secret, access token and developer key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The app's name, as admins will see it.")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--json", action="store_true", help="Print only one JSON object on stdout."
        )
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            dest="redirect_uris",
            metavar="URL",
            help="A redirect URI of the app's OAuth 2.0 flow (repeatable); prints clientId.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            self.stderr.write("The app needs a name.")
            raise SystemExit(2)
        try:
            with transaction.atomic():
                created = app_create(name=name, description=options["description"])
                if options["redirect_uris"]:
                    app_redirect_uris_set(app=created.app, redirect_uris=options["redirect_uris"])
        except ValidationError as error:
            self.stderr.write("; ".join(error.messages))
            raise SystemExit(2) from error
        secrets = {
            "appId": str(created.app.pk),
            "clientSecret": created.app.client_secret,
            "accessToken": created.access_token,
            "developerApiKey": created.developer_api_key,
        }
        if options["redirect_uris"]:
            secrets["clientId"] = created.app.client_id
        if options["json"]:
            self.stdout.write(json.dumps(secrets))
            return
        self.stdout.write(f"Created app {created.app.name!r}. These secrets are shown once:")
        for key, value in secrets.items():
            self.stdout.write(f"  {key}: {value}")
