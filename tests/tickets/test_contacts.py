"""Delivery-identifier normalisation and ``contact_resolve``."""

from __future__ import annotations

import pytest

from tests.factories import ContactFactory, CustomChannelFactory
from tickets import contacts
from tickets.contacts import IdentifierError, contact_resolve, identifier_normalise
from tickets.models import Contact, ContactIdentifier

EMAIL, PHONE, OPAQUE = "HS_EMAIL_ADDRESS", "HS_PHONE_NUMBER", "CHANNEL_SPECIFIC_OPAQUE_ID"


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (EMAIL, "Ada@Example.COM", "ada@example.com"),
        (EMAIL, "ada@example.com", "ada@example.com"),
        (PHONE, "+1 (555) 010-0000", "+15550100000"),
        (PHONE, "+15550100000", "+15550100000"),
        (PHONE, "+44 7911 123456", "+447911123456"),
        (PHONE, "+33 6 12 34 56 78", "+33612345678"),
        (OPAQUE, "U123ABC", "U123ABC"),
        (OPAQUE, "Case Matters", "Case Matters"),
    ],
)
def test_identifiers_are_normalised(kind, value, expected):
    assert identifier_normalise(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (EMAIL, "not-an-email", "email"),
        (EMAIL, "", "email"),
        (PHONE, "5550100000", "E.164"),
        (PHONE, "+1555", "E.164"),
        (PHONE, "call me", "E.164"),
        (OPAQUE, "", "non-empty"),
        (OPAQUE, "   ", "non-empty"),
        (OPAQUE, "x" * 321, "at most"),
        ("HS_SHORT_CODE", "12345", "valid"),
    ],
)
def test_invalid_identifiers_are_refused_with_a_reason(kind, value, message):
    with pytest.raises(IdentifierError, match=message):
        identifier_normalise(kind, value)


@pytest.mark.django_db
class TestContactResolve:
    def test_a_new_identifier_creates_a_named_contact(self):
        channel = CustomChannelFactory()
        resolved = contact_resolve(channel=channel, kind=EMAIL, value="ada@example.com", name="Ada")
        assert resolved.created
        assert resolved.contact.name == "Ada"
        assert resolved.contact.email == "ada@example.com"
        assert resolved.identifier.channel is None

    def test_a_known_identifier_finds_its_contact(self):
        channel = CustomChannelFactory()
        first = contact_resolve(channel=channel, kind=PHONE, value="+15550100000", name="A")
        again = contact_resolve(channel=channel, kind=PHONE, value="+15550100000", name="B")
        assert not again.created
        assert again.contact == first.contact
        assert again.contact.name == "A"

    def test_emails_and_phones_are_global_across_channels(self):
        first = contact_resolve(channel=CustomChannelFactory(), kind=PHONE, value="+15550100000")
        other = contact_resolve(channel=CustomChannelFactory(), kind=PHONE, value="+15550100000")
        assert other.contact == first.contact

    def test_opaque_ids_are_scoped_to_their_channel(self):
        channel, other_channel = CustomChannelFactory(), CustomChannelFactory()
        first = contact_resolve(channel=channel, kind=OPAQUE, value="U1")
        other = contact_resolve(channel=other_channel, kind=OPAQUE, value="U1")
        assert other.contact != first.contact
        assert first.identifier.channel == channel
        assert contact_resolve(channel=channel, kind=OPAQUE, value="U1").contact == first.contact

    def test_a_contact_without_a_name_is_named_after_the_identifier(self):
        resolved = contact_resolve(channel=CustomChannelFactory(), kind=OPAQUE, value="U9")
        assert resolved.contact.name == "U9"

    def test_an_explicit_contact_receives_a_new_identifier(self):
        known = ContactFactory()
        resolved = contact_resolve(
            channel=CustomChannelFactory(), kind=EMAIL, value="x@example.com", contact=known
        )
        assert resolved.contact == known
        assert not resolved.created
        assert Contact.objects.count() == 1

    def test_an_explicit_contact_does_not_take_someone_elses_identifier(self):
        channel = CustomChannelFactory()
        owner = contact_resolve(channel=channel, kind=EMAIL, value="x@example.com").contact
        other = ContactFactory()
        resolved = contact_resolve(
            channel=channel, kind=EMAIL, value="x@example.com", contact=other
        )
        assert resolved.identifier.contact == owner
        assert ContactIdentifier.objects.count() == 1

    def test_losing_the_insert_race_returns_the_winners_identifier(self, monkeypatch):
        """Simulates the race: the lookup misses, the insert hits the unique constraint."""
        channel = CustomChannelFactory()
        winner = contact_resolve(channel=channel, kind=PHONE, value="+15550100000", name="W")
        real = contacts._identifiers
        monkeypatch.setattr(
            contacts,
            "_identifiers",
            lambda kind, value, channel: _MissThenHit(real(kind, value, channel)),
        )
        resolved = contact_resolve(channel=channel, kind=PHONE, value="+15550100000", name="L")
        assert resolved.contact == winner.contact
        assert not resolved.created
        assert Contact.objects.count() == 1


class _MissThenHit:
    """A queryset stand-in whose ``first()`` misses (the race) and ``get()`` finds the row."""

    def __init__(self, queryset):
        self.queryset = queryset

    def first(self):
        return None

    def get(self):
        return self.queryset.get()
