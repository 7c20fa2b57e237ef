"""``GET /conversations/v3/conversations/inboxes`` (API.md "Inboxes")."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import AppClient, make_app_client
from tickets.models import Inbox

URL = "/conversations/v3/conversations/inboxes"


def test_a_fresh_install_lists_one_help_desk_inbox(app_client: AppClient) -> None:
    response = app_client.client.get(URL)

    assert response.status_code == 200
    inbox = Inbox.objects.get()
    assert response.json() == {
        "results": [{"id": str(inbox.pk), "name": "Help Desk", "type": "HELP_DESK"}]
    }


def test_inboxes_are_listed_in_creation_order(app_client: AppClient) -> None:
    second = Inbox.objects.create(name="Sales", type=Inbox.Type.INBOX)

    results = app_client.client.get(URL).json()["results"]

    assert [row["id"] for row in results] == [
        str(Inbox.objects.order_by("pk").first().pk),
        str(second.pk),
    ]
    assert results[1] == {"id": str(second.pk), "name": "Sales", "type": "INBOX"}


@pytest.mark.parametrize(
    "scopes", [("conversations.read",), ("conversations.custom_channels.read",)]
)
def test_either_read_scope_is_enough(db: None, scopes: tuple[str, ...]) -> None:
    client = make_app_client(scopes=scopes)
    assert client.client.get(URL).status_code == 200


def test_a_write_only_token_is_403(db: None) -> None:
    client = make_app_client(scopes=("conversations.custom_channels.write",))
    response = client.client.get(URL)
    assert response.status_code == 403
    assert response.json()["category"] == "FORBIDDEN"


def test_no_token_is_401(db: None, anonymous_client: APIClient) -> None:
    response = anonymous_client.get(URL)
    assert response.status_code == 401
    assert response.json()["category"] == "UNAUTHORIZED"


def test_other_methods_are_405(app_client: AppClient) -> None:
    response = app_client.client.post(URL, {}, format="json")
    assert response.status_code == 405
    assert response.json()["status"] == "error"


@pytest.mark.parametrize("rows", [1, 20])
def test_query_count_does_not_grow_with_inboxes(
    app_client: AppClient, django_assert_num_queries: Any, rows: int
) -> None:
    Inbox.objects.bulk_create(Inbox(name=f"Inbox {n}") for n in range(rows - 1))
    # token lookup, the inboxes
    with django_assert_num_queries(2):
        response = app_client.client.get(URL)
    assert len(response.json()["results"]) == rows
