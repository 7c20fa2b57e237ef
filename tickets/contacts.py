"""Contacts found by how they reach us: delivery-identifier normalisation and ``contact_resolve``.

An identifier is stored normalised, so equality in the database is equality of addresses:
emails lower-cased, phones in E.164, opaque ids verbatim but scoped to their channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from channels_app.capabilities import delivery_identifier_normalise
from channels_app.models import CustomChannel
from tickets.models import Contact, ContactIdentifier


class IdentifierError(ValueError):
    """A delivery identifier value that is malformed for its type; ``str(error)`` is for clients."""


# Messages for clients, per type: what a valid value looks like.
_VALUE_RULES: dict[str, str] = {
    ContactIdentifier.Kind.EMAIL: "must be a valid email address",
    ContactIdentifier.Kind.PHONE: "must be E.164 (e.g. +14155552671)",
    ContactIdentifier.Kind.OPAQUE: "must be a non-empty string of at most 320 characters",
}


def identifier_normalise(kind: str, value: str) -> str:
    """The canonical form of ``value`` for an identifier of ``kind``, or ``IdentifierError``.

    The same normalisation as channel accounts' identifiers
    (``channels_app.capabilities.delivery_identifier_normalise``), so the two compare equal:
    emails lower-cased; phones with their country code (``+``) to E.164, checking plausibility
    only (fictional +1 555 numbers pass: bridges and tests use them); opaque ids verbatim.
    """
    normalised = delivery_identifier_normalise(kind, value)
    if normalised is None:
        raise IdentifierError(_VALUE_RULES.get(kind, "is not valid for its type"))
    return normalised


@dataclass(frozen=True)
class ResolvedContact:
    contact: Contact
    identifier: ContactIdentifier
    created: bool


def contact_identifier_matches(
    identifier: ContactIdentifier, *, channel: CustomChannel, kind: str, value: str
) -> bool:
    """Whether ``identifier`` is the row ``contact_resolve`` would find for a normalised
    ``kind``/``value`` on ``channel``: the same address (opaque ids only on their channel).
    Identifiers are unique per address, so a match means ``contact_resolve`` has nothing to do:
    a caller that already holds the row (a thread's identifier) skips the lookup."""
    if identifier.kind != kind or identifier.value != value:
        return False
    if kind == ContactIdentifier.Kind.OPAQUE:
        return identifier.channel_id == channel.pk
    return identifier.channel_id is None


def _identifiers(kind: str, value: str, channel: CustomChannel) -> QuerySet[ContactIdentifier]:
    identifiers = ContactIdentifier.objects.select_related("contact").filter(kind=kind, value=value)
    if kind == ContactIdentifier.Kind.OPAQUE:
        return identifiers.filter(channel=channel)
    return identifiers.filter(channel__isnull=True)


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
    try:  # unique per address: ``get`` needs no ORDER BY
        existing = identifiers.get()
    except ContactIdentifier.DoesNotExist:
        pass
    else:
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
