"""Contacts found by how they reach us: delivery-identifier normalisation and ``contact_resolve``.

An identifier is stored normalised, so equality in the database is equality of addresses:
emails lower-cased, phones in E.164, opaque ids verbatim but scoped to their channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from channels_app.models import CustomChannel
from tickets.models import Contact, ContactIdentifier

IDENTIFIER_MAX_LENGTH = 320


class IdentifierError(ValueError):
    """A delivery identifier value that is malformed for its type; ``str(error)`` is for clients."""


def identifier_normalise(kind: str, value: str) -> str:
    """The canonical form of ``value`` for an identifier of ``kind``, or ``IdentifierError``.

    Phones must carry their country code (``+``): without a region the number is ambiguous, and
    HubSpot documents E.164. Fictional ranges (+1 555…) are accepted: only the length is checked,
    as bridges and test numbers use them.
    """
    text = value.strip()
    if kind == ContactIdentifier.Kind.EMAIL:
        try:
            validate_email(text)
        except DjangoValidationError:
            raise IdentifierError("must be a valid email address") from None
        return text.lower()
    if kind == ContactIdentifier.Kind.PHONE:
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            raise IdentifierError("must be E.164 (e.g. +15550100000)") from None
        if not phonenumbers.is_possible_number(number):
            raise IdentifierError("must be E.164 (e.g. +15550100000)")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if kind == ContactIdentifier.Kind.OPAQUE:
        if not text:
            raise IdentifierError("must not be empty")
        if len(text) > IDENTIFIER_MAX_LENGTH:
            raise IdentifierError(f"must be at most {IDENTIFIER_MAX_LENGTH} characters")
        # Opaque ids are compared verbatim: only surrounding whitespace is not part of them.
        return text
    raise IdentifierError("is not a known delivery identifier type")


@dataclass(frozen=True)
class ResolvedContact:
    contact: Contact
    identifier: ContactIdentifier
    created: bool


def _identifiers(kind: str, value: str, channel: CustomChannel) -> QuerySet[ContactIdentifier]:
    scope = {"channel": channel} if kind == ContactIdentifier.Kind.OPAQUE else {"channel": None}
    return ContactIdentifier.objects.select_related("contact").filter(
        kind=kind, value=value, **scope
    )


def contact_resolve(
    *,
    channel: CustomChannel,
    kind: str,
    value: str,
    name: str = "",
    contact: Contact | None = None,
) -> ResolvedContact:
    """The contact reached at a normalised identifier, creating contact and identifier if new.

    ``value`` must already be normalised (``identifier_normalise``). ``contact`` (an explicit
    association) receives a new identifier instead of a new contact; an identifier that already
    belongs to someone else is left alone. Race-safe: the insert runs in a savepoint and a loser
    of the unique constraint re-reads the winner's row (under READ COMMITTED the re-read sees the
    committed row). Must run inside a transaction.
    """
    identifiers = _identifiers(kind, value, channel)
    existing = identifiers.first()
    if existing is not None:
        return ResolvedContact(contact=existing.contact, identifier=existing, created=False)
    try:
        with transaction.atomic():
            created = contact is None
            if contact is None:
                contact = Contact.objects.create(
                    name=(name.strip() or value)[:300],
                    email=value if kind == ContactIdentifier.Kind.EMAIL else "",
                    phone=value if kind == ContactIdentifier.Kind.PHONE else "",
                )
            identifier = ContactIdentifier.objects.create(
                contact=contact,
                kind=kind,
                value=value,
                channel=channel if kind == ContactIdentifier.Kind.OPAQUE else None,
            )
    except IntegrityError:
        # A concurrent request created the identifier first; its row is committed now.
        winner = identifiers.get()
        return ResolvedContact(contact=winner.contact, identifier=winner, created=False)
    return ResolvedContact(contact=contact, identifier=identifier, created=created)
