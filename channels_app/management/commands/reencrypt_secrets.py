"""``manage.py reencrypt_secrets``: re-encrypts every stored secret under the first key.

Key rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run
this command, then remove the old keys.
"""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from channels_app.models import App, ChannelAccount, CustomChannel

# (model, encrypted fields): loading decrypts with any key, saving encrypts with the first.
ENCRYPTED_FIELDS: list[tuple[Any, list[str]]] = [
    (App, ["client_secret"]),
    (CustomChannel, ["signing_secret", "previous_signing_secret"]),
    (ChannelAccount, ["credentials"]),
]


class Command(BaseCommand):
    help = "Re-encrypt stored credentials and secrets with the first FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model, fields in ENCRYPTED_FIELDS:
            count = 0
            with transaction.atomic():
                for row in (
                    model.objects.select_for_update().only("pk", *fields).iterator(chunk_size=500)
                ):
                    for name in fields:
                        getattr(row, name)  # decrypts (lazily loaded), so saving re-encrypts
                    row.save(update_fields=fields)
                    count += 1
            self.stdout.write(f"{model._meta.label}: {count} rows re-encrypted")
            total += count
        self.stdout.write(f"Done: {total} rows.")
