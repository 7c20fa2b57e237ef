"""The workspace in a real browser (SPEC I1, I2): views with counts, a search by a word of a
message body narrowed to one channel, and that search saved as a view that keeps its filters."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.factories import ChannelAccountFactory, ContactFactory, UserFactory
from tests.tickets.factories import inbox_ticket
from tickets.models import SavedView

pytestmark = pytest.mark.django_db(transaction=True)


def test_search_by_body_word_with_a_channel_filter_saved_as_a_view(
    page: Any, sign_in: Any, screenshot: Any
) -> None:
    rep = UserFactory(username="ada", first_name="Ada", last_name="King")
    sms = ChannelAccountFactory(channel__name="Acme SMS", name="Support line")
    chat = ChannelAccountFactory(channel__name="Acme Chat", name="Website")
    wanted = inbox_ticket(
        account=sms,
        contact=ContactFactory(name="Grace Hopper"),
        owner=rep,
        texts=("Hi there", "I would like a refund for order 1138"),
        priority="HIGH",
    )
    inbox_ticket(account=chat, contact=ContactFactory(name="Alan Turing"), texts=("refund me",))
    inbox_ticket(account=sms, contact=ContactFactory(name="Edsger Dijkstra"), texts=("Thanks!",))
    inbox_ticket(account=None, contact=ContactFactory(name="Barbara Liskov"), texts=("Email me",))

    sign_in(rep)
    page.goto("/")
    page.wait_for_url("**/inbox/")
    rows = page.get_by_test_id("ticket-row")
    expect(rows).to_have_count(4)
    nav = page.get_by_test_id("inbox-nav")
    expect(nav.locator('[data-view-count="open"]')).to_have_text("4")
    expect(nav.locator('[data-view-count="mine"]')).to_have_text("1")
    expect(nav.locator('[data-view-count="unassigned"]')).to_have_text("3")
    expect(page.get_by_test_id("custom-channel-icon")).to_have_count(3)
    screenshot(page, "inbox")

    # "Assigned to me" from the left column, with the keyboard.
    nav.get_by_role("link", name="Assigned to me").focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Grace Hopper")
    expect(rows.first).to_contain_text("Ada King")

    # The search icon at the top left.
    page.get_by_role("link", name="Search").click()
    page.get_by_role("searchbox", name="Search").fill("refund")
    page.get_by_label("Channel", exact=True).select_option(label="Acme SMS")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-ticket-id", str(wanted.pk))
    expect(rows.first.get_by_test_id("ticket-snippet")).to_have_text(
        "I would like a refund for order 1138"
    )
    screenshot(page, "inbox-search")

    page.get_by_label("View name").fill("SMS refunds")
    page.get_by_label("Share with every rep").check()
    page.get_by_role("button", name="Save as view").click()

    saved = SavedView.objects.get()
    assert saved.filters == {"q": "refund", "channel": sms.channel_id}
    assert (saved.name, saved.shared, saved.owner_id) == ("SMS refunds", True, rep.pk)
    page.wait_for_url(f"**/inbox/?view=saved-{saved.pk}")
    expect(page.get_by_role("heading", name="SMS refunds")).to_be_visible()
    expect(nav.locator(f'[data-view-count="saved-{saved.pk}"]')).to_have_text("1")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-ticket-id", str(wanted.pk))

    # The view keeps its filters: editing it opens the search as it was saved.
    page.get_by_role("link", name="Edit filters").click()
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("refund")
    expect(page.get_by_label("Channel", exact=True)).to_have_value(str(sms.channel_id))
    expect(page.get_by_label("View name")).to_have_value("SMS refunds")
    expect(rows).to_have_count(1)
    screenshot(page, "inbox-saved-view-edit")
