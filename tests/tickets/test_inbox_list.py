"""Workspace → Help Desk (SPEC I1): the default views per rep, their counts, the rows, cursor
pagination, custom views (private or shared) and the queries a page costs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import ChannelAccountFactory, ContactFactory, UserFactory
from tests.tickets.factories import inbox_ticket
from tickets import inbox
from tickets.inbox import cursor_encode
from tickets.models import SavedView
from tickets.saved_views import saved_view_create

pytestmark = pytest.mark.django_db

INBOX = "/inbox/"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def row_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content[:2000]
    return [int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', response.content.decode())]


def counts(response: Any) -> dict[str, int]:
    html = response.content.decode()
    return {key: int(n) for key, n in re.findall(r'data-view-count="([\w-]+)">(\d+)<', html)}


@pytest.fixture
def desk() -> dict[str, Any]:
    """Alice and Bob, and four tickets: one unassigned, one each, one closed (Alice's)."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    now = timezone.now()
    tickets = {
        "unassigned": inbox_ticket(at=now - timedelta(minutes=1)),
        "alice": inbox_ticket(owner=alice, at=now - timedelta(minutes=3)),
        "bob": inbox_ticket(owner=bob, at=now - timedelta(minutes=2)),
        "closed": inbox_ticket(owner=alice, status_name="Closed", at=now),
    }
    return {"alice": alice, "bob": bob, **{f"t_{k}": v.pk for k, v in tickets.items()}}


def test_each_default_view_lists_its_tickets_newest_activity_first(desk: dict[str, Any]) -> None:
    alice = signed_in(desk["alice"])
    assert row_ids(alice.get(INBOX, {"view": "unassigned"})) == [desk["t_unassigned"]]
    assert row_ids(alice.get(INBOX, {"view": "mine"})) == [desk["t_alice"]]
    assert row_ids(alice.get(INBOX, {"view": "open"})) == [
        desk["t_unassigned"],
        desk["t_bob"],
        desk["t_alice"],
    ]
    assert row_ids(alice.get(INBOX, {"view": "closed"})) == [desk["t_closed"]]
    # The default view is "All open".
    assert row_ids(alice.get(INBOX)) == row_ids(alice.get(INBOX, {"view": "open"}))
    # "Assigned to me" is the viewer's.
    assert row_ids(signed_in(desk["bob"]).get(INBOX, {"view": "mine"})) == [desk["t_bob"]]


def test_the_left_column_counts_each_view_for_the_viewer(desk: dict[str, Any]) -> None:
    response = signed_in(desk["alice"]).get(INBOX)
    assert counts(response) == {"unassigned": 1, "mine": 1, "open": 3, "closed": 1}
    assert 'data-view-key="open" aria-current="page"' in response.content.decode()
    carol = UserFactory()
    assert counts(signed_in(carol).get(INBOX, {"view": "closed"}))["mine"] == 0


def test_a_row_shows_contact_newest_message_time_owner_status_and_channel_icon() -> None:
    alice = UserFactory(username="alice", first_name="Alice", last_name="Liddell")
    account = ChannelAccountFactory(channel__name="Acme SMS")
    contact = ContactFactory(name="Ada Lovelace")
    custom = inbox_ticket(
        account=account,
        contact=contact,
        owner=alice,
        status_name="Waiting on us",
        texts=("First message", "Where is my parcel?"),
        priority="HIGH",
    )
    email = inbox_ticket(account=None, texts=("Sent by email",))

    html = signed_in(alice).get(INBOX).content.decode()
    rows = dict(
        re.findall(r'data-ticket-id="(\d+)" data-testid="ticket-row">(.*?)</li>', html, re.S)
    )
    row = rows[str(custom.pk)]
    assert "Ada Lovelace" in row
    assert "Where is my parcel?" in row
    assert "First message" not in row
    assert "Alice Liddell" in row
    assert "Waiting on us" in row
    assert "High" in row
    assert f'datetime="{timezone.localtime(custom.last_message_at).isoformat()}' in row
    assert 'data-testid="custom-channel-icon"' in row
    assert "Custom channel: Acme SMS" in row
    assert f'href="/inbox/tickets/{custom.pk}/"' in row
    other = rows[str(email.pk)]
    assert "Unassigned" in other
    assert "Sent by email" in other
    assert 'data-testid="custom-channel-icon"' not in other


def test_the_cursor_walks_every_ticket_once_in_order_even_with_equal_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbox, "PAGE_SIZE", 3)
    user = UserFactory()
    moment = timezone.now()
    # Three tickets share a time: the id breaks the tie.
    made = [inbox_ticket(at=moment - timedelta(minutes=i // 3)) for i in range(8)]
    expected = [t.pk for t in sorted(made, key=lambda t: (t.last_message_at, t.pk), reverse=True)]

    client = signed_in(user)
    seen: list[int] = []
    url = f"{INBOX}?view=open"
    pages = 0
    while url:
        response = client.get(url)
        ids = row_ids(response)
        assert len(ids) <= 3
        seen += ids
        pages += 1
        found = re.search(r'href="([^"]+)" rel="next"', response.content.decode())
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == expected
    assert pages == 3


def test_a_malformed_cursor_gives_the_first_page(desk: dict[str, Any]) -> None:
    client = signed_in(desk["alice"])
    first = row_ids(client.get(INBOX, {"view": "open"}))
    for bad in ("garbage", "W10", cursor_encode(timezone.now(), 1)[:-2] + "!!"):
        assert row_ids(client.get(INBOX, {"view": "open", "after": bad})) == first


def test_the_list_fragment_is_the_rows_alone(desk: dict[str, Any]) -> None:
    response = signed_in(desk["alice"]).get(INBOX, {"view": "mine", "fragment": "list"})
    html = response.content.decode()
    assert row_ids(response) == [desk["t_alice"]]
    assert "<html" not in html
    assert html.strip().startswith('<div class="ticket-list"')
    nav = signed_in(desk["alice"]).get(INBOX, {"view": "mine", "fragment": "nav"})
    assert counts(nav)["mine"] == 1
    assert "<html" not in nav.content.decode()


def test_the_refreshed_left_column_marks_what_the_page_marked(desk: dict[str, Any]) -> None:
    """Live updates re-fetch the column from its data-refresh-url: the current entry stays."""
    browser = signed_in(desk["alice"])

    def refreshed(page_url: str, **params: str) -> str:
        html = browser.get(page_url, params).content.decode()
        url = re.search(r'id="inbox-views"[^>]*data-refresh-url="([^"]+)"', html)
        assert url, "the column says where to refresh it from"
        return browser.get(url.group(1).replace("&amp;", "&")).content.decode()

    def current(html: str) -> list[str]:
        return re.findall(
            r'data-(?:view-key="([^"]+)"|testid="(search-link)")[^>]*aria-current', html
        )

    assert current(refreshed(INBOX, view="mine")) == [("mine", "")]
    assert current(refreshed("/inbox/search/", q="order")) == [("", "search-link")]
    assert current(refreshed(f"/inbox/tickets/{desk['t_alice']}/")) == []


def test_pages_need_a_signed_in_user_and_home_leads_reps_to_the_inbox() -> None:
    anonymous = Client()
    for url in (INBOX, "/inbox/search/?q=x"):
        response = anonymous.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    assert anonymous.get("/").status_code == 200
    response = signed_in(UserFactory()).get("/")
    assert response.status_code == 302
    assert response["Location"] == INBOX


def test_an_unknown_view_is_404(desk: dict[str, Any]) -> None:
    client = signed_in(desk["alice"])
    assert client.get(INBOX, {"view": "nonsense"}).status_code == 404
    assert client.get(INBOX, {"view": "saved-999999"}).status_code == 404


# --- Custom views ----------------------------------------------------------------------------


def test_a_private_view_is_its_owners_and_a_shared_view_everyones(desk: dict[str, Any]) -> None:
    alice, bob = desk["alice"], desk["bob"]
    private = saved_view_create(
        owner=alice, name="My closed", shared=False, filters={"status": "CLOSED"}
    )
    shared = saved_view_create(owner=alice, name="Mine, open", shared=True, filters={"owner": "me"})

    as_alice = signed_in(alice).get(INBOX)
    assert counts(as_alice)[f"saved-{private.pk}"] == 1
    assert counts(as_alice)[f"saved-{shared.pk}"] == 2  # "me" is Alice: open and closed
    assert row_ids(signed_in(alice).get(INBOX, {"view": f"saved-{private.pk}"})) == [
        desk["t_closed"]
    ]

    as_bob = signed_in(bob).get(INBOX)
    assert f"saved-{private.pk}" not in counts(as_bob)
    assert counts(as_bob)[f"saved-{shared.pk}"] == 1  # "me" is whoever looks
    assert signed_in(bob).get(INBOX, {"view": f"saved-{private.pk}"}).status_code == 404
    assert row_ids(signed_in(bob).get(INBOX, {"view": f"saved-{shared.pk}"})) == [desk["t_bob"]]


def test_saving_a_search_stores_its_filters_and_opens_the_view(desk: dict[str, Any]) -> None:
    account = ChannelAccountFactory()
    client = signed_in(desk["alice"])
    response = client.post(
        "/inbox/views/",
        {
            "name": "  Urgent SMS  ",
            "shared": "on",
            "q": "refund",
            "account": str(account.pk),
            "priority": "URGENT",
            "from": "2024-01-01",
            "ignored": "x",
        },
    )
    saved = SavedView.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/inbox/?view=saved-{saved.pk}"
    assert (saved.name, saved.shared, saved.owner) == ("Urgent SMS", True, desk["alice"])
    assert saved.filters == {
        "q": "refund",
        "account": account.pk,
        "priority": "URGENT",
        "from": "2024-01-01",
    }
    page = client.get(response["Location"]).content.decode()
    assert "Urgent SMS" in page
    assert "Saved the view" in page


@pytest.mark.parametrize(
    ("post", "field", "message"),
    [
        ({"name": "", "q": "x"}, "name", "Give the view a name."),
        ({"name": "x" * 81, "q": "x"}, "name", "characters"),
        ({"name": "Taken", "q": "x"}, "name", "You already have a view with this name."),
        ({"name": "Ok", "channel": "999999"}, "channel", "Select a valid choice"),
        ({"name": "Ok", "from": "2024-02-01", "to": "2024-01-01"}, "to", "before the start"),
        ({"name": "Ok", "priority": "EXTREME"}, "priority", "Select a valid choice"),
    ],
)
def test_a_bad_view_shows_the_error_by_its_field_and_stores_nothing(
    desk: dict[str, Any], post: dict[str, str], field: str, message: str
) -> None:
    saved_view_create(owner=desk["alice"], name="Taken", shared=False, filters={"q": "y"})
    response = signed_in(desk["alice"]).post("/inbox/views/", post)
    assert response.status_code == 400
    html = response.content.decode()
    field_html = html.split(f'name="{field}"', 1)[1].split('class="field', 1)[0]
    assert field_html.replace("&#x27;", "'").count(message) == 1
    assert "This field is required" not in field_html  # one message: the service's
    assert SavedView.objects.count() == 1


def test_only_the_owner_changes_or_deletes_a_view(desk: dict[str, Any]) -> None:
    alice, bob = desk["alice"], desk["bob"]
    shared = saved_view_create(owner=alice, name="Shared", shared=True, filters={"q": "a"})
    private = saved_view_create(owner=alice, name="Private", shared=False, filters={"q": "a"})
    as_bob = signed_in(bob)
    assert as_bob.post(f"/inbox/views/{shared.pk}/", {"name": "Hijack"}).status_code == 403
    assert as_bob.post(f"/inbox/views/{shared.pk}/delete/").status_code == 403
    assert as_bob.post(f"/inbox/views/{private.pk}/delete/").status_code == 404
    assert SavedView.objects.filter(name__in=["Shared", "Private"]).count() == 2
    # Bob's page of the shared view offers a search with its filters, not an edit.
    html = as_bob.get(INBOX, {"view": f"saved-{shared.pk}"}).content.decode()
    assert "Search with these filters" in html
    assert "Delete view" not in html

    as_alice = signed_in(alice)
    response = as_alice.post(
        f"/inbox/views/{shared.pk}/", {"name": "Renamed", "status": "OPEN", "q": "b"}
    )
    assert response.status_code == 302
    shared.refresh_from_db()
    assert (shared.name, shared.shared, shared.filters) == (
        "Renamed",
        False,
        {"q": "b", "status": "OPEN"},
    )
    assert as_alice.post(f"/inbox/views/{private.pk}/delete/").status_code == 302
    assert not SavedView.objects.filter(pk=private.pk).exists()


def test_editing_a_view_opens_the_search_with_its_filters(desk: dict[str, Any]) -> None:
    account = ChannelAccountFactory(name="Line one")
    saved = saved_view_create(
        owner=desk["alice"],
        name="Line one, open",
        shared=False,
        filters={"account": account.pk, "status": "OPEN", "q": "parcel"},
    )
    html = signed_in(desk["alice"]).get(INBOX, {"view": f"saved-{saved.pk}"}).content.decode()
    edit = re.search(r'href="([^"]+)">Edit filters', html)
    assert edit is not None
    page = signed_in(desk["alice"]).get(edit.group(1).replace("&amp;", "&")).content.decode()
    assert 'value="parcel"' in page
    assert f'<option value="{account.pk}" selected>' in page
    assert '<option value="OPEN" selected>' in page
    assert f'action="/inbox/views/{saved.pk}/"' in page
    assert "Update view" in page


# --- Queries ---------------------------------------------------------------------------------


def _tickets(count: int, owner: Any) -> None:
    for index in range(count):
        inbox_ticket(
            owner=owner if index % 2 else None,
            status_name="Closed" if index % 4 == 3 else "New",
            texts=("Where is my refund?", "Any news?"),
        )


# session, user, custom views, counts, page; the search page adds its four filter choices.
VIEW_QUERIES = 5
SEARCH_QUERIES = 9


@pytest.mark.parametrize("rows", [1, 20])
@pytest.mark.parametrize("view", ["unassigned", "mine", "open", "closed", "saved"])
def test_opening_a_view_costs_the_same_queries_for_1_and_20_tickets(
    django_assert_num_queries: Any, rows: int, view: str
) -> None:
    user = UserFactory()
    _tickets(rows * 4, user)  # enough for every view to hold at least ``rows`` tickets
    saved_view_create(owner=user, name="Refunds", shared=True, filters={"q": "refund"})
    saved_view_create(owner=UserFactory(), name="Other", shared=True, filters={"owner": "me"})
    key = f"saved-{SavedView.objects.get(name='Refunds').pk}" if view == "saved" else view
    client = signed_in(user)
    client.get(INBOX)  # the first request of a session records presence
    with django_assert_num_queries(VIEW_QUERIES):
        response = client.get(INBOX, {"view": key})
    assert len(row_ids(response)) >= rows


@pytest.mark.parametrize("rows", [1, 20])
def test_a_search_costs_the_same_queries_for_1_and_20_results(
    django_assert_num_queries: Any, rows: int
) -> None:
    user = UserFactory()
    _tickets(rows, user)
    client = signed_in(user)
    client.get(INBOX)
    with django_assert_num_queries(SEARCH_QUERIES):
        response = client.get("/inbox/search/", {"q": "refund"})
    assert len(row_ids(response)) == rows
