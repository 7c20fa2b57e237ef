"""``manage.py create_app "Acme SMS" [--json]``: creates an app and prints its secrets once."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from channels_app.services import app_create


class Command(BaseCommand):
    help = "Create an external app; prints its id, client secret, access token and developer key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The app's name, as admins will see it.")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--json", action="store_true", help="Print only one JSON object on stdout."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            self.stderr.write("The app needs a name.")
            raise SystemExit(2)
        created = app_create(name=name, description=options["description"])
        secrets = {
            "appId": str(created.app.pk),
            "clientSecret": created.app.client_secret,
            "accessToken": created.access_token,
            "developerApiKey": created.developer_api_key,
        }
        if options["json"]:
            self.stdout.write(json.dumps(secrets))
            return
        self.stdout.write(f"Created app {created.app.name!r}. These secrets are shown once:")
        for key, value in secrets.items():
            self.stdout.write(f"  {key}: {value}")
